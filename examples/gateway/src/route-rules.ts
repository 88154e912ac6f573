import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Authenticator } from '@edgekit/auth';
import { requireClientCertificate } from './client-certificate.js';
import type { RouteRule } from './config.js';
import type { RateLimitMiddleware } from './ratelimit.js';

export type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
const NO_MIDDLEWARE: Middleware[] = [];

/** A route rule ready to match requests: its lower-cased prefix, methods and middleware. */
export interface CompiledRoute {
  prefix: string;
  methods: ReadonlySet<string> | undefined;
  chain: Middleware[];
}

/**
 * Whether a rule's prefix covers `path`. Both are compared in ASCII lower case (`prefix` is stored
 * so): many origins route case-insensitively (Express does by default), and a rule that protects
 * `/api/admin` must also protect `/API/Admin`. A `;` ends a segment as a `/` does.
 */
function prefixMatches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (path.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    let code = path.charCodeAt(i);
    if (code >= 65 && code <= 90) code += 32; // A-Z
    if (code !== prefix.charCodeAt(i)) return false;
  }
  if (path.length === prefix.length) return true;
  const next = path.charCodeAt(prefix.length);
  return next === 47 || next === 59; // '/' or ';'
}

// Dots and spaces (`%20`, no-break space `%C2%A0`) that end a segment: origins on Windows paths
// (IIS, ASP.NET) and some Java matchers trim them, so `/api/admin./x` is their `/api/admin/x`.
const SEGMENT_TAIL = /(?:\.|%20|%C2%A0)+(?=[/;]|$)/gi;
const DOUBLE_SLASH = /\/{2,}/g;

/**
 * The path rules are matched against: `path` (already canonical) with the dots and spaces that end
 * its segments removed, and the `//` that removal leaves merged, so a rule covers every spelling
 * such an origin reads as its path. Only matching uses it; the request keeps its path.
 */
export function rulePath(path: string): string {
  if (path.indexOf('.') === -1 && path.indexOf('%') === -1) return path;
  const trimmed = path.replace(SEGMENT_TAIL, '');
  return trimmed === path ? path : trimmed.replace(DOUBLE_SLASH, '/') || '/';
}

/** The middleware of the first route rule that matches, or none. */
export function chainFor(routes: readonly CompiledRoute[], method: string, path: string): Middleware[] {
  if (routes.length === 0) return NO_MIDDLEWARE;
  path = rulePath(path);
  for (const route of routes) {
    if (!prefixMatches(route.prefix, path)) continue;
    if (route.methods !== undefined && !route.methods.has(method)) continue;
    return route.chain;
  }
  return NO_MIDDLEWARE;
}

/** Where a route rule that names its service leaves it on the request, for the pipeline's last step. */
export const ROUTE_SERVICE = Symbol('edgekit.routeService');
export type RoutedRequest<S> = IncomingMessage & { [ROUTE_SERVICE]?: S };

/**
 * The middleware chain of one route rule: client certificate, fresh revocations, authentication,
 * scopes, rate limit, and, for a rule that names its service, a last step that tags the request
 * with that service.
 */
export function compileRoute<S>(rule: RouteRule, authenticators: Partial<Record<'jwt' | 'apiKey' | 'any', Authenticator>>, limit: RateLimitMiddleware | undefined, fresh: Middleware, service?: S): CompiledRoute {
  const chain: Middleware[] = rule.clientCertificate === 'required' ? [requireClientCertificate] : [];
  if (rule.revocations === 'fresh') chain.push(fresh);
  if (rule.auth !== 'none') {
    const authenticator = authenticators[rule.auth]!;
    chain.push(authenticator.middleware() as Middleware);
    if (rule.scopes.length > 0) chain.push(authenticator.requireScopes(rule.scopes) as Middleware);
  }
  if (limit !== undefined) chain.push(limit);
  if (service !== undefined) {
    chain.push((req, _res, next) => {
      (req as RoutedRequest<S>)[ROUTE_SERVICE] = service;
      next();
    });
  }
  // HEAD is GET without a body (RFC 9110 §9.3.2): origins answer it with the GET handler.
  const methods = rule.methods === undefined ? undefined : new Set(rule.methods.includes('GET') ? [...rule.methods, 'HEAD'] : rule.methods);
  // Stored without a trailing slash (a rule on `/api/admin/` also covers `/api/admin` itself) and
  // in the form paths are matched in (see `rulePath`).
  return { prefix: rulePath(rule.path.toLowerCase()).replace(/\/+$/, '') || '/', methods, chain };
}
