import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources, so tests never need a build.
const conditions = ['@edgekit/source', ...defaultServerConditions];
// Vitest also hands the SSR conditions to the worker processes as `node --conditions`, where
// 'module' makes Node's own require() pick ESM builds that Node cannot load (prom-client's
// require('@opentelemetry/api')), so it is left out there.
const nodeConditions = conditions.filter((condition) => condition !== 'module');

// One project per package and example that has a test/ folder.
const projects = ['packages', 'examples'].flatMap((group) =>
  readdirSync(group, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(group, entry.name, 'test')))
    .map((entry) => ({
      extends: true as const,
      test: {
        name: `${group === 'packages' ? '' : 'example-'}${entry.name}`,
        root: join(group, entry.name),
        include: ['test/**/*.test.ts'],
      },
    })),
);
// The code blocks of the READMEs and guides.
projects.push({ extends: true as const, test: { name: 'docs', root: 'docs', include: ['test/**/*.test.ts'] } });

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions: nodeConditions } },
  test: {
    projects,
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Suites start real servers; keep the 2-core CI machines from oversubscribing.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
