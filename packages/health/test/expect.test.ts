import { createManualClock } from '@edgekit/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { type HealthCheckerOptions, type ProbeResponse, createHealthChecker } from '../src/index.js';
import { type Route, type Upstream, startUpstream } from './upstream.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** Probes `route` once with `options` and returns the target's health. */
async function probeOnce(route: Route, options: Partial<HealthCheckerOptions> = {}) {
  const up: Upstream = await startUpstream({ '/health': route });
  cleanup.push(() => up.close());
  const checker = createHealthChecker({ targets: [{ name: 'eu', url: up.url }], clock: createManualClock(), ...options });
  cleanup.push(() => checker.close());
  const snapshot = await checker.checkNow();
  return snapshot.eu!;
}

describe('HTTP probe expectations', () => {
  it('accepts 200-399 by default', async () => {
    expect((await probeOnce({ status: 200 })).state).toBe('healthy');
    expect((await probeOnce({ status: 302 })).state).toBe('healthy');
    expect(await probeOnce({ status: 404 })).toMatchObject({ state: 'unhealthy', lastStatus: 404, lastErrorCode: 'EBADSTATUS' });
    expect(await probeOnce({ status: 500 })).toMatchObject({ state: 'unhealthy', lastError: 'eu: status 500 is not one of 200-399' });
  });

  it('accepts a list of statuses and ranges', async () => {
    const expectation = { status: [204, { min: 300, max: 301 }] };
    expect((await probeOnce({ status: 204 }, { expect: expectation })).state).toBe('healthy');
    expect((await probeOnce({ status: 301 }, { expect: expectation })).state).toBe('healthy');
    expect(await probeOnce({ status: 200 }, { expect: expectation })).toMatchObject({
      state: 'unhealthy',
      lastError: 'eu: status 200 is not one of 204, 300-301',
    });
  });

  it('passes the body to the predicate and fails the probe when it returns false', async () => {
    const seen: ProbeResponse[] = [];
    const body = (text: string, response: ProbeResponse): boolean => {
      seen.push(response);
      return (JSON.parse(text) as { status: string }).status === 'ok';
    };
    expect((await probeOnce({ status: 200, body: '{"status":"ok"}' }, { expect: { body } })).state).toBe('healthy');
    expect(seen[0]?.status).toBe(200);
    expect(seen[0]?.headers['content-length']).toBe('15');
    expect(await probeOnce({ status: 200, body: '{"status":"degraded"}' }, { expect: { body } })).toMatchObject({
      state: 'unhealthy',
      lastErrorCode: 'EBADBODY',
    });
  });

  it('fails the probe when the predicate throws', async () => {
    const body = (text: string): boolean => JSON.parse(text) !== null;
    expect(await probeOnce({ status: 200, body: 'not json' }, { expect: { body } })).toMatchObject({
      state: 'unhealthy',
      lastErrorCode: 'EBADBODY',
    });
  });

  it('checks the status before reading the body', async () => {
    let calls = 0;
    const body = (): boolean => ++calls > 0;
    expect(await probeOnce({ status: 503, body: '{"status":"ok"}' }, { expect: { body } })).toMatchObject({ lastErrorCode: 'EBADSTATUS' });
    expect(calls).toBe(0);
  });

  it('fails a body larger than maxBodyBytes instead of buffering it', async () => {
    const body = (): boolean => true;
    expect(await probeOnce({ status: 200, body: 'x'.repeat(5_000) }, { expect: { body }, maxBodyBytes: 1_000 })).toMatchObject({
      state: 'unhealthy',
      lastErrorCode: 'EBADBODY',
      lastError: 'eu: response body exceeds maxBodyBytes (1000)',
    });
  });

  it('reports a refused connection as EPROBEFAILED', async () => {
    const up = await startUpstream();
    const url = up.url;
    await up.close();
    const checker = createHealthChecker({ targets: [{ name: 'eu', url }], clock: createManualClock() });
    cleanup.push(() => checker.close());
    const snapshot = await checker.checkNow();
    expect(snapshot.eu).toMatchObject({ state: 'unhealthy', lastErrorCode: 'EPROBEFAILED' });
    expect(snapshot.eu?.lastError).toMatch(/ECONNREFUSED/);
  });

  it('sends the configured method and headers', async () => {
    const up = await startUpstream({ '/health': { status: 200 } });
    cleanup.push(() => up.close());
    const requests: Array<{ method?: string; auth?: string; host?: string }> = [];
    up.server.prependListener('request', (req) => requests.push({ method: req.method, auth: req.headers.authorization, host: req.headers.host }));
    const checker = createHealthChecker({
      targets: [{ name: 'eu', url: up.url }],
      method: 'HEAD',
      headers: { Authorization: 'Bearer t', host: 'eu.internal' },
      clock: createManualClock(),
    });
    cleanup.push(() => checker.close());
    expect((await checker.checkNow()).eu?.state).toBe('healthy');
    expect(requests).toEqual([{ method: 'HEAD', auth: 'Bearer t', host: 'eu.internal' }]);
  });
});
