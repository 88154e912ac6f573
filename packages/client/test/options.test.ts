import { describe, expect, it } from 'vitest';
import { EdgeClientError, createEdgeClient, isEdgeClientError } from '../src/index.js';

const edges = [{ id: 'a', region: 'eu', url: 'http://127.0.0.1:1' }];

describe('options', () => {
  it.each([
    [{}, TypeError, /"edges"/],
    [{ edges: [{ id: 'a', region: 'eu', url: 'ftp://x' }] }, TypeError, /edges\[0\]\.url/],
    [{ edges: [...edges, ...edges] }, TypeError, /edges\[1\]\.id is not unique/],
    [{ edges, probe: { jitter: 2 } }, RangeError, /"probe\.jitter" must be a number in \[0, 1\] \(got 2\)/],
    [{ edges, probe: { path: 'health' } }, TypeError, /"probe\.path"/],
    [{ edges, region: 'us' }, RangeError, /"region"/],
    [{ edges, hedge: {} }, TypeError, /"hedge"/],
    [{ edges, hedge: { delay: 10, max: 0 } }, RangeError, /"hedge\.max"/],
    [{ edges, retryStatuses: [42] }, TypeError, /"retryStatuses"/],
    [{ edges, breaker: { failureThreshold: 1.5 } }, RangeError, /"breaker\.failureThreshold" must be an integer/],
    [{ edges, location: { lat: 91, lon: 0 } }, TypeError, /option location must be \{ lat, lon \}/],
    [{ edgeMap: { url: 'http://x' } }, TypeError, /"edgeMap"/],
    [{ edges, fetch: 'nope' }, TypeError, /"fetch" must be a function/],
  ])('refuses %j naming the option', (options, type, message) => {
    expect(() => createEdgeClient(options as never)).toThrow(type);
    expect(() => createEdgeClient(options as never)).toThrow(message);
  });

  it('brands its errors so isEdgeClientError works on a copy from another bundle', () => {
    const error = new EdgeClientError('EUNAVAILABLE', 'none', { region: 'eu', retryAfter: 5 });
    expect(isEdgeClientError(error)).toBe(true);
    expect(isEdgeClientError(Object.assign(new Error('x'), { code: 'EUNAVAILABLE' }))).toBe(false);
    expect(error).toMatchObject({ name: 'EdgeClientError', code: 'EUNAVAILABLE', region: 'eu', retryAfter: 5, edgesTried: [] });
  });
});
