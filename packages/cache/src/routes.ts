import { checkNumber, describeValue, optionalBoolean, optionalNumber, optionalOneOf } from '@edgekit/core';

const SCOPE = '@edgekit/cache';

/** How one route is cached. Durations are milliseconds. */
export interface RoutePolicy {
  /** Freshness lifetime used when the origin sends no `s-maxage`, `max-age` or `Expires` (or always, with `override`). Default: 0. */
  ttl?: number;
  /** Serve a stale entry for this long while one background request revalidates it, unless the origin says otherwise. Default: 0. */
  staleWhileRevalidate?: number;
  /** Serve a stale entry for this long when the origin fails (5xx or no answer), unless the origin says otherwise. Default: 0. */
  staleIfError?: number;
  /** `false` keys entries by the caller's `Authorization` and `Cookie` (one entry per user) and allows `private` responses. Default: true. */
  shared?: boolean;
  /** Request headers that select a variant, in addition to the origin's `Vary`. Default: none. */
  vary?: string | readonly string[];
  /** Tags of the entry; `{param}` is replaced by the route parameter (`product:{id}`). Default: none. */
  tags?: readonly string[];
  /** When true, `ttl` wins over the origin's freshness directives (`no-store` and `private` still apply). Default: false. */
  override?: boolean;
  /** Freshness for 404/405/410/414/501 responses without explicit freshness. Default: 0 (not stored). */
  negativeTtl?: number;
  /**
   * A response with `Set-Cookie`: `'bypass'` does not store it, `'strip'` stores it without
   * `Set-Cookie`, `'store'` stores it with its cookies and sends them with every hit (RFC 9111 §3
   * allows it; only for cookies that are the same for everyone). Default: `'bypass'`.
   */
  setCookie?: 'bypass' | 'strip' | 'store';
  /**
   * Requests with a principal or a credential header (see the cache's `principal` and
   * `credentialHeaders`): `'bypass'` goes to the origin without storing or answering from the
   * cache; `'per-principal'` keeps one entry per principal (the principal is part of the key, so no
   * entry is ever served to another principal or to anonymous requests). Default: `'bypass'`.
   */
  authenticated?: 'bypass' | 'per-principal';
}

/** A route policy with defaults applied and templates compiled. */
export interface ResolvedPolicy {
  readonly ttl: number;
  readonly staleWhileRevalidate: number;
  readonly staleIfError: number;
  readonly shared: boolean;
  /** Lower-case, sorted, without duplicates. */
  readonly vary: readonly string[];
  readonly override: boolean;
  readonly negativeTtl: number;
  readonly setCookie: 'bypass' | 'strip' | 'store';
  readonly authenticated: 'bypass' | 'per-principal';
}

/** Defaults of {@link RoutePolicy}. */
export const POLICY_DEFAULTS = {
  ttl: 0,
  staleWhileRevalidate: 0,
  staleIfError: 0,
  shared: true,
  override: false,
  negativeTtl: 0,
  setCookie: 'bypass',
  authenticated: 'bypass',
} as const;

type TemplatePart = string | number;

/** A compiled route: its name (the pattern, used as a telemetry label), policy and tag templates. */
export class CompiledRoute {
  readonly name: string;
  readonly policy: ResolvedPolicy;
  readonly paramNames: readonly string[];
  readonly #tagTemplates: ReadonlyArray<readonly TemplatePart[]>;
  readonly #staticTags: readonly string[] | undefined;

  constructor(name: string, policy: ResolvedPolicy, paramNames: readonly string[], tagTemplates: ReadonlyArray<readonly TemplatePart[]>) {
    this.name = name;
    this.policy = policy;
    this.paramNames = paramNames;
    this.#tagTemplates = tagTemplates;
    this.#staticTags = tagTemplates.every((t) => t.length === 1 && typeof t[0] === 'string') ? tagTemplates.map((t) => t[0] as string) : undefined;
  }

  /** The policy tags with route parameters filled in. */
  tags(params: readonly string[]): string[] {
    if (this.#staticTags) return this.#staticTags.slice();
    const out: string[] = [];
    for (const template of this.#tagTemplates) {
      let tag = '';
      for (const part of template) tag += typeof part === 'string' ? part : (params[part] ?? '');
      out.push(tag);
    }
    return out;
  }
}

/** A request matched to a route. */
export interface RouteMatch {
  readonly route: CompiledRoute;
  /** Parameter values in the order of `route.paramNames`. */
  readonly params: readonly string[];
}

class RouteNode {
  readonly statics = new Map<string, RouteNode>();
  param: RouteNode | undefined;
  wildcard: CompiledRoute | undefined;
  route: CompiledRoute | undefined;
}

/** A path segment rewrite used to name requests that match no route (`/users/42` → `/users/:id`). */
export interface PathNormalizer {
  /** Tested against one path segment; must not be global or sticky. */
  pattern: RegExp;
  /** The segment's replacement, such as `:id`. */
  replacement: string;
}

/** Numeric ids and UUIDs, applied after the user's normalizers. */
export const DEFAULT_PATH_NORMALIZERS: readonly PathNormalizer[] = Object.freeze([
  { pattern: /^\d+$/, replacement: ':id' },
  { pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, replacement: ':uuid' },
]);

function normalizeVaryList(scope: string, value: unknown): string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list)) throw new TypeError(`${scope} must be a header name or an array of header names (got ${describeValue(value)})`);
  const names = new Set<string>();
  for (const item of list) {
    if (typeof item !== 'string') throw new TypeError(`${scope} must contain header names (got ${describeValue(item)})`);
    const name = item.trim().toLowerCase();
    if (name.length === 0) continue;
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name) || name === '*') throw new TypeError(`${scope} contains an invalid header name ${describeValue(item)}`);
    names.add(name);
  }
  return [...names].sort();
}

function compileTag(scope: string, template: unknown, paramNames: readonly string[]): TemplatePart[] {
  if (typeof template !== 'string' || template.length === 0 || template.length > 256) {
    throw new TypeError(`${scope} must be a non-empty string of at most 256 characters (got ${describeValue(template)})`);
  }
  const parts: TemplatePart[] = [];
  let literal = '';
  for (let i = 0; i < template.length; i++) {
    const ch = template[i]!;
    if (ch !== '{') {
      literal += ch;
      continue;
    }
    const end = template.indexOf('}', i);
    if (end === -1) throw new TypeError(`${scope} has an unclosed "{" (got ${describeValue(template)})`);
    const name = template.slice(i + 1, end);
    const index = paramNames.indexOf(name);
    if (index === -1) throw new TypeError(`${scope} refers to {${name}}, which is not a parameter of the route (got ${describeValue(template)})`);
    if (literal) parts.push(literal);
    literal = '';
    parts.push(index);
    i = end;
  }
  if (literal || parts.length === 0) parts.push(literal);
  return parts;
}

/** Validates a policy and applies defaults; `scope` names it in error messages. */
export function resolvePolicy(scope: string, policy: RoutePolicy | undefined): ResolvedPolicy {
  if (policy === undefined || policy === null || typeof policy !== 'object') throw new TypeError(`${scope}: policy must be an object (got ${describeValue(policy)})`);
  const known = new Set(['ttl', 'staleWhileRevalidate', 'staleIfError', 'shared', 'vary', 'tags', 'override', 'negativeTtl', 'setCookie', 'authenticated']);
  for (const key of Object.keys(policy)) {
    if (key === 'shareAuthorized') throw new TypeError(`${scope}: policy option "shareAuthorized" was removed; authenticated requests are private unless the route says authenticated: 'per-principal'`);
    if (!known.has(key)) throw new TypeError(`${scope}: unknown policy option "${key}"`);
  }
  const ms = { min: 0, allowInfinity: false } as const;
  return Object.freeze({
    ttl: optionalNumber(scope, 'ttl', policy.ttl, POLICY_DEFAULTS.ttl, ms),
    staleWhileRevalidate: optionalNumber(scope, 'staleWhileRevalidate', policy.staleWhileRevalidate, POLICY_DEFAULTS.staleWhileRevalidate, ms),
    staleIfError: optionalNumber(scope, 'staleIfError', policy.staleIfError, POLICY_DEFAULTS.staleIfError, ms),
    shared: optionalBoolean(scope, 'shared', policy.shared, POLICY_DEFAULTS.shared),
    vary: Object.freeze(normalizeVaryList(`${scope}: option "vary"`, policy.vary)),
    override: optionalBoolean(scope, 'override', policy.override, POLICY_DEFAULTS.override),
    negativeTtl: optionalNumber(scope, 'negativeTtl', policy.negativeTtl, POLICY_DEFAULTS.negativeTtl, ms),
    setCookie: optionalOneOf(scope, 'setCookie', policy.setCookie, ['bypass', 'strip', 'store'] as const, POLICY_DEFAULTS.setCookie),
    authenticated: optionalOneOf(scope, 'authenticated', policy.authenticated, ['bypass', 'per-principal'] as const, POLICY_DEFAULTS.authenticated),
  });
}

/**
 * Route patterns compiled once into a segment tree. Patterns are `'GET /api/products/:id'`
 * (`:name` matches one non-empty segment, a final `*` matches the rest). Static segments win over
 * parameters, parameters over `*`. Only GET routes exist: HEAD requests use them too.
 */
export class RouteTable {
  readonly #root = new RouteNode();
  readonly #normalizers: readonly PathNormalizer[];
  readonly size: number;

  constructor(routes: Readonly<Record<string, RoutePolicy>> = {}, normalizers: readonly PathNormalizer[] = []) {
    if (routes === null || typeof routes !== 'object' || Array.isArray(routes)) {
      throw new TypeError(`${SCOPE}: option "routes" must be an object of pattern → policy (got ${describeValue(routes)})`);
    }
    if (!Array.isArray(normalizers)) throw new TypeError(`${SCOPE}: option "pathNormalizers" must be an array (got ${describeValue(normalizers)})`);
    for (const [i, n] of normalizers.entries()) {
      if (!n || !(n.pattern instanceof RegExp) || n.pattern.global || n.pattern.sticky || typeof n.replacement !== 'string') {
        throw new TypeError(`${SCOPE}: option "pathNormalizers[${i}]" must be { pattern: RegExp (not global or sticky), replacement: string } (got ${describeValue(n)})`);
      }
    }
    this.#normalizers = [...normalizers, ...DEFAULT_PATH_NORMALIZERS];
    let count = 0;
    for (const [pattern, policy] of Object.entries(routes)) {
      this.#add(pattern, policy);
      count++;
    }
    this.size = count;
  }

  #add(pattern: string, policy: RoutePolicy): void {
    const scope = `${SCOPE}: route ${JSON.stringify(pattern)}`;
    const trimmed = pattern.trim();
    const space = trimmed.indexOf(' ');
    const method = space === -1 ? 'GET' : trimmed.slice(0, space).toUpperCase();
    const path = space === -1 ? trimmed : trimmed.slice(space + 1).trim();
    if (method !== 'GET') throw new TypeError(`${scope}: only GET routes are cacheable (HEAD uses them too)`);
    if (!path.startsWith('/')) throw new TypeError(`${scope}: the path must start with "/"`);
    const segments = path.split('/').slice(1);
    const paramNames: string[] = [];
    let node = this.#root;
    let wildcard = false;
    for (const [i, segment] of segments.entries()) {
      if (segment === '*') {
        if (i !== segments.length - 1) throw new TypeError(`${scope}: "*" may only be the last segment`);
        paramNames.push('*');
        wildcard = true;
        break;
      }
      if (segment.startsWith(':')) {
        const name = segment.slice(1);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new TypeError(`${scope}: invalid parameter name ${JSON.stringify(segment)}`);
        if (paramNames.includes(name)) throw new TypeError(`${scope}: parameter ":${name}" appears twice`);
        paramNames.push(name);
        node.param ??= new RouteNode();
        node = node.param;
        continue;
      }
      let next = node.statics.get(segment);
      if (!next) {
        next = new RouteNode();
        node.statics.set(segment, next);
      }
      node = next;
    }
    const resolved = resolvePolicy(scope, policy);
    const rawTags = policy.tags;
    if (rawTags !== undefined && !Array.isArray(rawTags)) throw new TypeError(`${scope}: option "tags" must be an array (got ${describeValue(rawTags)})`);
    const templates = (rawTags ?? []).map((t, i) => compileTag(`${scope}: option "tags[${i}]"`, t, paramNames));
    const name = `GET ${path}`;
    const route = new CompiledRoute(name, resolved, paramNames, templates);
    if (wildcard) {
      if (node.wildcard) throw new TypeError(`${scope}: duplicates route ${node.wildcard.name}`);
      node.wildcard = route;
    } else {
      if (node.route) throw new TypeError(`${scope}: duplicates route ${node.route.name}`);
      node.route = route;
    }
  }

  /** Finds the route of a normalised path (without query), or `undefined`. */
  match(path: string): RouteMatch | undefined {
    if (this.size === 0 || path.charCodeAt(0) !== 47) return undefined;
    const segments = path.split('/');
    const params: string[] = [];
    const route = this.#walk(this.#root, segments, 1, params);
    return route ? { route, params } : undefined;
  }

  #walk(node: RouteNode, segments: readonly string[], index: number, params: string[]): CompiledRoute | undefined {
    if (index === segments.length) return node.route ?? (node.wildcard && (params.push(''), node.wildcard));
    const segment = segments[index]!;
    const child = node.statics.get(segment);
    if (child) {
      const found = this.#walk(child, segments, index + 1, params);
      if (found) return found;
    }
    if (node.param && segment.length > 0) {
      params.push(segment);
      const found = this.#walk(node.param, segments, index + 1, params);
      if (found) return found;
      params.pop();
    }
    if (node.wildcard) {
      params.push(segments.slice(index).join('/'));
      return node.wildcard;
    }
    return undefined;
  }

  /** A low-cardinality name for a path that matched no route: ids and UUIDs replaced (`GET /users/:id`). */
  label(path: string): string {
    const segments = path.split('/');
    for (let i = 1; i < segments.length; i++) {
      const segment = segments[i]!;
      for (const n of this.#normalizers) {
        if (n.pattern.test(segment)) {
          segments[i] = n.replacement;
          break;
        }
      }
    }
    return `GET ${segments.join('/')}`;
  }
}

/** Checks a duration option in milliseconds. */
export function checkDuration(scope: string, name: string, value: unknown, min = 0): number {
  return checkNumber(scope, name, value, { min });
}
