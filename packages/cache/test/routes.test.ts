import { describe, expect, it } from 'vitest';
import { RouteTable } from '../src/routes.js';

describe('RouteTable', () => {
  const table = new RouteTable({
    'GET /api/products/:id': { ttl: 60_000, tags: ['product:{id}', 'products'] },
    'GET /api/products/featured': { ttl: 5_000 },
    'GET /api/users/:user/orders/:order': { ttl: 1_000, tags: ['user:{user}:order:{order}'] },
    'GET /static/*': { ttl: 3_600_000 },
    '/plain': { ttl: 1 },
  });

  it('matches parameters and fills tag templates from them', () => {
    const match = table.match('/api/products/123');
    expect(match?.route.name).toBe('GET /api/products/:id');
    expect(match?.route.tags(match.params)).toEqual(['product:123', 'products']);
    const orders = table.match('/api/users/ann/orders/9');
    expect(orders?.route.tags(orders.params)).toEqual(['user:ann:order:9']);
  });

  it('prefers static segments over parameters and parameters over *', () => {
    expect(table.match('/api/products/featured')?.route.name).toBe('GET /api/products/featured');
    expect(table.match('/static/css/site.css')?.params).toEqual(['css/site.css']);
  });

  it('does not match an empty parameter segment or unknown paths', () => {
    expect(table.match('/api/products/')).toBeUndefined();
    expect(table.match('/api/nothing')).toBeUndefined();
    expect(table.match('api/products/1')).toBeUndefined();
  });

  it('treats a pattern without a method as GET', () => {
    expect(table.match('/plain')?.route.name).toBe('GET /plain');
  });

  it('names unmatched paths with ids and UUIDs replaced, and user normalizers first', () => {
    const t = new RouteTable({}, [{ pattern: /^[0-9a-f]{24}$/, replacement: ':objectId' }]);
    expect(t.label('/users/42/posts/0b7f8c3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b')).toBe('GET /users/:id/posts/:uuid');
    expect(t.label('/docs/5f1e9b2a3c4d5e6f7a8b9c0d')).toBe('GET /docs/:objectId');
  });

  it('rejects bad patterns and policies with errors naming the route and option', () => {
    expect(() => new RouteTable({ 'POST /x': {} })).toThrow(/only GET routes/);
    expect(() => new RouteTable({ 'GET /x/:id': { tags: ['p:{nope}'] } })).toThrow(/"GET \/x\/:id".*tags\[0\].*\{nope\}/);
    expect(() => new RouteTable({ 'GET /x': { ttl: -1 } })).toThrow(RangeError);
    expect(() => new RouteTable({ 'GET /x': { ttl: 1, ttlSeconds: 5 } as never })).toThrow(/unknown policy option "ttlSeconds"/);
    expect(() => new RouteTable({ 'GET /x': { vary: ['bad header'] } })).toThrow(/invalid header name/);
    expect(() => new RouteTable({ 'GET /x/*/y': {} })).toThrow(/last segment/);
    expect(() => new RouteTable({ 'GET /x': {}, '/x': {} })).toThrow(/duplicates/);
    expect(() => new RouteTable({}, [{ pattern: /\d/g, replacement: ':n' }])).toThrow(/pathNormalizers\[0\]/);
  });

  it('normalises vary lists: lower case, sorted, unique', () => {
    const t = new RouteTable({ 'GET /x': { vary: 'Accept-Language, accept-encoding,ACCEPT-LANGUAGE' } });
    expect(t.match('/x')?.route.policy.vary).toEqual(['accept-encoding', 'accept-language']);
  });
});

describe('cache.matches', () => {
  it('says which requests can involve the cache, on the normalised path, so composers never parse route syntax', async () => {
    const { createCache } = await import('../src/index.js');
    const cache = createCache({ routes: { 'GET /api/products/:id': { ttl: 1_000 }, 'GET /static/*': { ttl: 1_000 } } });
    expect(cache.matches('GET', '/api/products/42?x=1')).toBe(true);
    expect(cache.matches('HEAD', '/static/css/site.css')).toBe(true);
    // Percent-encoded unreserved characters normalise onto the route, as the cache keys them.
    expect(cache.matches('GET', '/%61pi/products/42')).toBe(true);
    expect(cache.matches('GET', '/api/products')).toBe(false);
    expect(cache.matches('GET', '/api/products/42/reviews')).toBe(false);
    expect(cache.matches('GET', 'http://elsewhere/api/products/42')).toBe(false);
    expect(cache.matches('OPTIONS', '/api/products/42')).toBe(false);
    expect(cache.matches('POST', '/anything')).toBe(true);
    expect(cache.matches('M-SEARCH', '/anything')).toBe(true);
    const never = createCache({ routes: { 'GET /api/*': { ttl: 1_000 } }, unsafeInvalidation: 'never' });
    expect(never.matches('POST', '/api/x')).toBe(false);
    await cache.close();
    await never.close();
  });
});
