import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { createManualClock } from '@edgekit/core/testing';
import { closeServer, describeRedis, listen, useRedisServer } from '@edgekit/test-utils';
import { describe, expect, it } from 'vitest';
import {
  QUOTA_EXCEEDED_TYPE,
  type RateLimitMiddlewareOptions,
  createLocalLimiter,
  createRateLimitMiddleware,
  createRedisLimiter,
  rateLimitHeaders,
} from '../src/index.js';
import { onCleanup, ready, redisClient } from './helpers.js';

async function serve(options: RateLimitMiddlewareOptions): Promise<string> {
  const middleware = createRateLimitMiddleware(options);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => middleware(req, res, () => res.end('ok')));
  const port = await listen(server);
  onCleanup(() => closeServer(server));
  return `http://127.0.0.1:${port}`;
}

describe('RateLimit headers', () => {
  it('follow draft-ietf-httpapi-ratelimit-headers: sf-string policy name, q/w and r/t in seconds', () => {
    const limiter = createLocalLimiter({ name: 'per-ip', algorithm: 'fixed-window', limit: 100, window: 60_000, clock: createManualClock(30_500) });
    expect(rateLimitHeaders(limiter.policy, limiter.limit('k'))).toEqual({
      'ratelimit-policy': '"per-ip";q=100;w=60',
      ratelimit: '"per-ip";r=99;t=30',
    });
    // Sub-second windows still advertise a non-zero integer window, as the draft requires.
    const fast = createLocalLimiter({ algorithm: 'gcra', limit: 5, window: 250 });
    expect(rateLimitHeaders(fast.policy, fast.limit('k'))['ratelimit-policy']).toBe('"default";q=5;w=1');
  });
});

describe('rate limit middleware', () => {
  it('passes allowed requests with headers and answers the rest 429 with Retry-After and problem+json', async () => {
    const clock = createManualClock(0);
    const limiter = createLocalLimiter({ algorithm: 'gcra', limit: 2, window: 10_000, clock });
    const url = await serve({ limiter });
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(await first.text()).toBe('ok');
    expect(first.headers.get('ratelimit-policy')).toBe('"default";q=2;w=10');
    expect(first.headers.get('ratelimit')).toBe('"default";r=1;t=5');
    expect((await fetch(url)).status).toBe(200);
    const refused = await fetch(url);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.headers.get('ratelimit')).toBe('"default";r=0;t=5');
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(await refused.json()).toEqual({
      type: QUOTA_EXCEEDED_TYPE,
      title: 'Request cannot be satisfied as assigned quota has been exceeded',
      status: 429,
      'violated-policies': ['default'],
    });
    clock.advance(5000);
    expect((await fetch(url)).status).toBe(200);
  });

  it('counts by the key function, charges the cost function and skips what skip() selects', async () => {
    const limiter = createLocalLimiter({ algorithm: 'fixed-window', limit: 3, window: 60_000 });
    const url = await serve({
      limiter,
      key: (req) => String(req.headers['x-api-key']),
      cost: (req) => (req.url === '/export' ? 3 : 1),
      skip: (req) => req.url === '/health',
    });
    const call = (path: string, key: string): Promise<number> => fetch(url + path, { headers: { 'x-api-key': key } }).then((r) => r.status);
    expect(await call('/export', 'a')).toBe(200);
    expect(await call('/', 'a')).toBe(429);
    expect(await call('/health', 'a')).toBe(200);
    expect(await call('/export', 'b')).toBe(200);
  });

  it('answers 500 without calling next when the key function throws', async () => {
    const limiter = createLocalLimiter({ limit: 3, window: 60_000 });
    const errors: unknown[] = [];
    const url = await serve({
      limiter,
      key: () => {
        throw new Error('no key');
      },
      onError: (error) => errors.push(error),
    });
    const response = await fetch(url);
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain('ok');
    expect(errors).toHaveLength(1);
  });

  it('uses the peer address by default and omits headers on allowed responses when told', async () => {
    const limiter = createLocalLimiter({ algorithm: 'fixed-window', limit: 1, window: 60_000 });
    const url = await serve({ limiter, headers: false });
    const first = await fetch(url);
    expect(first.headers.get('ratelimit')).toBeNull();
    expect((await fetch(url)).status).toBe(429);
    limiter.reset('127.0.0.1');
    expect((await fetch(url)).status).toBe(200);
  });

  it('validates its options', () => {
    expect(() => createRateLimitMiddleware({ limiter: {} as never })).toThrow(/"limiter"/);
    const limiter = createLocalLimiter({ limit: 1, window: 1 });
    expect(() => createRateLimitMiddleware({ limiter, key: 'ip' as never })).toThrow(/"key"/);
  });
});

describeRedis('rate limit middleware with the strict Redis limiter', () => {
  const server = useRedisServer();

  it('waits for the Redis decision and refuses past the global limit', async () => {
    const redis = redisClient(server.current.url);
    await ready(redis);
    const limiter = createRedisLimiter({ name: 'http', algorithm: 'sliding-window', limit: 2, window: 60_000, redis, prefix: `http${Date.now()}:` });
    const url = await serve({ limiter });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(url)).status);
    expect(statuses).toEqual([200, 200, 429, 429]);
  });
});
