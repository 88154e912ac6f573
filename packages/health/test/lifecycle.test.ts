import { type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse, Agent as HttpAgent, createServer, get as httpGet } from 'node:http';
import { createManualClock } from '@edgekit/core/testing';
import { closeServer, listen } from '@edgekit/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Lifecycle, type LifecycleOptions, type PhaseEvent, type ReadinessReport, createHealthChecker, createLifecycle } from '../src/index.js';

const wait = { timeout: 10_000, interval: 5 };
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function get(url: string, agent: HttpAgent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    httpGet(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** A gateway-like server: probes through `handle`, `/slow` held until released, everything tracked. */
async function startGateway(options: LifecycleOptions = {}) {
  const releases: Array<() => void> = [];
  let lifecycle: Lifecycle | undefined;
  const server: Server = createServer((req, res) => handler(req, res));
  lifecycle = createLifecycle({ servers: [server], ...options });
  const handler = lifecycle.track((req, res) => {
    if (lifecycle!.handle(req, res)) return;
    if (req.url === '/slow') {
      releases.push(() => res.end('done'));
      return;
    }
    res.end('fast');
  });
  const port = await listen(server);
  cleanup.push(() => closeServer(server));
  return { server, lifecycle, url: `http://127.0.0.1:${port}`, release: () => releases.splice(0).forEach((release) => release()) };
}

function healthyChecker(regions: Record<string, boolean>) {
  const checker = createHealthChecker({
    targets: Object.keys(regions).map((name) => ({ name })),
    probe: ({ name }) => regions[name],
    clock: createManualClock(),
  });
  cleanup.push(() => checker.close());
  return checker;
}

describe('createLifecycle: probes', () => {
  it('passes a middleware\'s extra arguments (next) through unchanged, with no receiver', async () => {
    const lifecycle = createLifecycle();
    const seen: unknown[][] = [];
    const middleware = lifecycle.track(function (this: unknown, req: IncomingMessage, res: ServerResponse, next: () => void, extra: string) {
      seen.push([this, req.url, typeof next, extra]);
      next();
      res.end('ok');
    });
    const server = createServer((req, res) => middleware.call({ not: 'passed' }, req, res, () => seen.push(['next']), 'x'));
    const port = await listen(server);
    cleanup.push(() => closeServer(server));
    expect((await get(`http://127.0.0.1:${port}/a`)).body).toBe('ok');
    expect(seen).toEqual([[undefined, '/a', 'function', 'x'], ['next']]);
    await vi.waitFor(() => expect(lifecycle.inFlight).toBe(0), wait);
  });

  it('counts a request once however many of its wrappers see it, and in each lifecycle that tracks it', async () => {
    const outer = createLifecycle();
    const inner = createLifecycle();
    let pending: import('node:http').ServerResponse | undefined;
    const held = inner.track((_req, res) => {
      pending = res;
    });
    // The same lifecycle wraps the handler twice (a composed handler tracked at two layers).
    const server = createServer(outer.track(outer.track(inner.track((req, res) => held(req, res)))));
    const port = await listen(server);
    cleanup.push(() => closeServer(server));
    const reply = get(`http://127.0.0.1:${port}/held`);
    await vi.waitFor(() => expect(pending).toBeDefined(), wait);
    expect(outer.inFlight).toBe(1);
    expect(inner.inFlight).toBe(1);
    pending!.end('done');
    await reply;
    await vi.waitFor(() => expect([outer.inFlight, inner.inFlight]).toEqual([0, 0]), wait);
  });

  it('answers liveness with 200 and readiness with 503 until a region has passed a check', async () => {
    const checker = healthyChecker({ eu: true });
    const { url } = await startGateway({ checker });

    const live = await get(`${url}/health`);
    expect(live.status).toBe(200);
    expect(JSON.parse(live.body)).toMatchObject({ alive: true, phase: 'serving' });
    expect(live.headers['cache-control']).toBe('no-store');

    const before = await get(`${url}/ready`);
    expect(before.status).toBe(503);
    expect(JSON.parse(before.body)).toMatchObject({ ready: false, reasons: ['no healthy region'], regions: { eu: { state: 'unknown', ready: false } } });

    await checker.checkNow();
    const after = await get(`${url}/ready?verbose=1`);
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body)).toMatchObject({ ready: true, reasons: [], regions: { eu: { state: 'healthy', ready: true } } });
    expect((await get(`${url}/other`)).body).toBe('fast');
  });

  it('counts unknown regions as ready with readyWhenUnknown', async () => {
    const lifecycle = createLifecycle({ checker: healthyChecker({ eu: true }), readyWhenUnknown: true });
    expect((await lifecycle.readiness()).ready).toBe(true);
  });

  it('is ready with one healthy region by default, and needs every listed region with requiredRegions', async () => {
    const checker = healthyChecker({ eu: true, us: false });
    await checker.checkNow();
    expect((await createLifecycle({ checker }).readiness()).ready).toBe(true);
    const strict = await createLifecycle({ checker, requiredRegions: ['eu', 'us', 'ap'] }).readiness();
    expect(strict.ready).toBe(false);
    expect(strict.reasons).toEqual(['required region "us" is unhealthy', 'required region "ap" is not checked']);
  });

  it('is unready while a required dependency is down, and reports optional ones without failing', async () => {
    const clock = createManualClock();
    const state = { redis: true as unknown, cache: 'ok' as unknown };
    const lifecycle = createLifecycle({
      clock,
      dependencyTimeout: 1_000,
      dependencies: [
        { name: 'redis', check: () => state.redis },
        {
          name: 'cache',
          required: false,
          check: async () => {
            if (state.cache instanceof Error) throw state.cache;
            return state.cache;
          },
        },
      ],
    });
    expect(await lifecycle.readiness()).toMatchObject({ ready: true, dependencies: { redis: { ok: true }, cache: { ok: true, required: false } } });

    state.redis = false;
    state.cache = new Error('ECONNRESET');
    const down = await lifecycle.readiness();
    expect(down.ready).toBe(false);
    expect(down.reasons).toEqual(['dependency "redis" is down: check returned false']);
    expect(down.dependencies.cache).toMatchObject({ ok: false, error: 'ECONNRESET' });

    let signal: AbortSignal | undefined;
    state.redis = new Promise(() => {});
    const hung = createLifecycle({
      clock,
      dependencyTimeout: 1_000,
      dependencies: [
        {
          name: 'redis',
          check: (s) => {
            signal = s;
            return new Promise(() => {});
          },
        },
      ],
    });
    const pending = hung.readiness();
    await clock.advanceAsync(1_000);
    const report: ReadinessReport = await pending;
    expect(report.reasons).toEqual(['dependency "redis" is down: redis: no answer within 1000 ms']);
    expect(signal?.aborted).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('runs dependency checks once for concurrent readiness requests', async () => {
    let calls = 0;
    const lifecycle = createLifecycle({ dependencies: [{ name: 'db', check: async () => ++calls > 0 }] });
    await Promise.all([lifecycle.readiness(), lifecycle.readiness(), lifecycle.readiness()]);
    expect(calls).toBe(1);
  });

  it('answers HEAD probes without a body', async () => {
    const { url } = await startGateway();
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = httpGet(`${url}/health`, { method: 'HEAD', agent: false }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toBe('');
  });
});

describe('createLifecycle: shutdown', () => {
  it('fails readiness first, lets an in-flight request finish with 200, then closes the server', async () => {
    const clock = createManualClock();
    const checker = healthyChecker({ eu: true });
    await checker.checkNow();
    const { server, lifecycle, url, release } = await startGateway({ checker, clock, shutdownDelay: 5_000, drainTimeout: 20_000 });
    const phases: PhaseEvent[] = [];
    lifecycle.on('phase', (event) => phases.push(event));
    expect((await get(`${url}/ready`)).status).toBe(200);

    const slow = get(`${url}/slow`);
    await vi.waitFor(() => expect(lifecycle.inFlight).toBe(1), wait);

    const shutdown = lifecycle.shutdown();
    expect(lifecycle.phase).toBe('draining');
    const ready = await get(`${url}/ready`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ ready: false, phase: 'draining', reasons: ['shutting down (draining)'], inFlight: 2 });
    const live = await get(`${url}/health`);
    expect(live.status).toBe(200); // liveness stays green while draining
    expect(live.headers.connection).toBe('close');
    expect(server.listening).toBe(true);

    await clock.advanceAsync(5_000); // the load balancer had time to notice
    expect(lifecycle.phase).toBe('closing');
    expect(server.listening).toBe(false);
    await expect(get(`${url}/health`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    release();
    const response = await slow;
    expect(response).toMatchObject({ status: 200, body: 'done' });
    expect(await shutdown).toEqual({ drained: true, abandoned: 0, durationMs: 5_000 });
    expect(phases.map((event) => event.phase)).toEqual(['draining', 'closing', 'closed']);
    expect(lifecycle.shutdown()).toBe(shutdown);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('cuts off requests still running after drainTimeout', async () => {
    const clock = createManualClock();
    const { lifecycle, url } = await startGateway({ clock, drainTimeout: 3_000 });
    const slow = get(`${url}/slow`);
    await vi.waitFor(() => expect(lifecycle.inFlight).toBe(1), wait);
    const shutdown = lifecycle.shutdown({ delay: 0 });
    expect(lifecycle.phase).toBe('closing');
    clock.advance(2_999);
    expect(lifecycle.phase).toBe('closing');
    clock.advance(1);
    expect(await shutdown).toMatchObject({ drained: false, abandoned: 1 });
    await expect(slow).rejects.toThrow(/socket hang up/);
  });

  it('closes idle keep-alive connections instead of waiting for them', async () => {
    const { server, lifecycle, url } = await startGateway({ shutdownDelay: 0 });
    const agent = new HttpAgent({ keepAlive: true });
    cleanup.push(() => agent.destroy());
    expect((await get(`${url}/other`, agent)).body).toBe('fast');
    const connections = (): Promise<number> => new Promise((resolve) => server.getConnections((_error, count) => resolve(count)));
    expect(await connections()).toBe(1);
    expect(await lifecycle.shutdown()).toMatchObject({ drained: true });
    expect(await connections()).toBe(0);
  });

  it('close() shuts down without the delay', async () => {
    const clock = createManualClock();
    const { server, lifecycle } = await startGateway({ clock, shutdownDelay: 60_000 });
    await lifecycle.close();
    expect(lifecycle.phase).toBe('closed');
    expect(server.listening).toBe(false);
  });
});
