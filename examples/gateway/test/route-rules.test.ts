import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Middleware, chainFor, compileRoute, rulePath } from '../src/route-rules.js';
import type { RouteRule } from '../src/config.js';

const marker: Middleware = (_req, _res, next) => next();
const route = (path: string) => compileRoute({ path, auth: 'none', scopes: [], revocations: 'cached' } as unknown as RouteRule, {}, marker, marker);

describe('route rule matching', () => {
  it('ignores the dots and spaces that end a segment, which Windows-path origins trim', () => {
    for (const path of ['/api/admin./x', '/api/admin.../x', '/api/admin%20/x', '/api/admin%c2%a0/x', '/api/admin.%20./x', '/api/admin.', '/API/Admin./x', '/api/admin.;x']) {
      expect(chainFor([route('/api/admin')], 'GET', path), path).not.toHaveLength(0);
    }
    for (const path of ['/api/administrator', '/api/admin.json', '/api/public./admin']) {
      expect(chainFor([route('/api/admin')], 'GET', path), path).toHaveLength(0);
    }
  });

  it('matches a rule written with a segment-end dot against the paths it covers', () => {
    expect(chainFor([route('/files./')], 'GET', '/files/x')).not.toHaveLength(0);
  });

  it('rulePath leaves paths without segment-end dots or spaces alone and is idempotent', () => {
    expect(rulePath('/api/v1.2/items')).toBe('/api/v1.2/items');
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^(?:[a-z0-9.]|%20|%C2%A0){0,6}$/), { minLength: 1, maxLength: 5 }), (segments) => {
        const once = rulePath(`/${segments.join('/')}`);
        expect(rulePath(once)).toBe(once);
        expect(once).not.toMatch(/(?:\.|%20|%C2%A0)(?:\/|$)/i);
      }),
    );
  });
});
