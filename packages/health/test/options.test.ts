import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createHealthChecker, createLifecycle, installSignalHandlers, linkBreakers } from '../src/index.js';

const probe = (): boolean => true;
const registry = { get: () => ({ open() {} }) };

describe('option validation', () => {
  it.each([
    [{ interval: 0 }, RangeError, /"interval" must be a number > 0 \(got 0\)/],
    [{ interval: 'fast' }, TypeError, /"interval".*\(got "fast"\)/],
    [{ timeout: Number.NaN }, TypeError, /"timeout"/],
    [{ timeout: -5 }, RangeError, /"timeout"/],
    [{ jitter: -1 }, RangeError, /"jitter"/],
    [{ initialJitter: Infinity }, RangeError, /"initialJitter"/],
    [{ healthyThreshold: 0 }, RangeError, /"healthyThreshold" must be an integer >= 1/],
    [{ unhealthyThreshold: 1.5 }, RangeError, /"unhealthyThreshold"/],
    [{ path: 'health' }, TypeError, /"path" must be a path starting with "\/"/],
    [{ path: '/health\r\nX-Injected: 1' }, TypeError, /"path"/],
    [{ method: 'POST' }, TypeError, /"method" must be one of "GET", "HEAD"/],
    [{ headers: { 'x-token': 'a\r\nb' } }, TypeError, /"headers\["x-token"\]" must be a string without CR, LF or NUL/],
    [{ headers: { 'bad name': 'x' } }, TypeError, /"headers" has an invalid header name "bad name"/],
    [{ headers: { 'x-n': 5 } }, TypeError, /"headers\["x-n"\]"/],
    [{ expect: 200 }, TypeError, /"expect" must be an object/],
    [{ expect: { status: 700 } }, RangeError, /"expect.status" must be an integer HTTP status/],
    [{ expect: { status: [200, 'ok'] } }, TypeError, /"expect.status\[1\]"/],
    [{ expect: { status: { min: 300, max: 200 } } }, RangeError, /"expect.status" must have min <= max/],
    [{ expect: { status: [] } }, RangeError, /"expect.status" must list at least one status/],
    [{ expect: { body: 'ok' } }, TypeError, /"expect.body" must be a function/],
    [{ maxBodyBytes: 0 }, RangeError, /"maxBodyBytes"/],
    [{ probe: 'ping' }, TypeError, /"probe" must be a function/],
    [{ random: 0.5 }, TypeError, /"random" must be a function/],
    [{ unknownIsHealthy: 'yes' }, TypeError, /"unknownIsHealthy" must be a boolean/],
    [{ clock: {} }, TypeError, /"clock" must be a Clock/],
    [{ targets: 'eu' }, TypeError, /"targets" must be an array/],
    [{ targets: [null] }, TypeError, /"targets\[0\]" must be an object/],
    [{ targets: [{ url: 'http://a' }] }, TypeError, /"targets\[0\].name" must be a non-empty string/],
    [{ targets: [{ name: 'eu' }] }, TypeError, /"targets\[0\].url" is required when no probe is given/],
    [{ targets: [{ name: 'eu', url: 'ftp://eu.example.com' }] }, TypeError, /"targets\[0\].url" must be an absolute http: or https: URL/],
    [{ targets: [{ name: 'eu', url: 'not a url' }] }, TypeError, /"targets\[0\].url"/],
    [{ targets: [{ name: 'eu', url: 'http://a', path: 'x' }] }, TypeError, /"targets\[0\].path"/],
    [{ targets: [{ name: 'eu', probe: 1 }] }, TypeError, /"targets\[0\].probe" must be a function/],
    [{ targets: [{ name: 'eu', probe }, { name: 'eu', probe }] }, TypeError, /"targets\[1\].name" repeats the target name "eu"/],
  ])('createHealthChecker rejects %j', (options, type, message) => {
    const create = (): unknown => createHealthChecker(options as never);
    expect(create).toThrow(type);
    expect(create).toThrow(/^@edgekit\/health: /);
    expect(create).toThrow(message);
  });

  it('rejects options that are not an object', () => {
    expect(() => createHealthChecker(null as never)).toThrow(/@edgekit\/health: options must be an object \(got null\)/);
  });

  it.each([
    [{ requiredRegions: 'all' }, /"requiredRegions" must be 'any' or an array of region names/],
    [{ requiredRegions: ['eu'] }, /"requiredRegions" lists regions but no "checker" is given/],
    [{ checker: {} }, /"checker" must have snapshot\(\)/],
    [{ shutdownDelay: -1 }, /"shutdownDelay"/],
    [{ drainTimeout: 'long' }, /"drainTimeout"/],
    [{ dependencyTimeout: 0 }, /"dependencyTimeout"/],
    [{ dependencies: {} }, /"dependencies" must be an array/],
    [{ dependencies: [{ name: 'redis' }] }, /"dependencies\[0\].check" must be a function/],
    [{ dependencies: [{ name: 'r', check: probe }, { name: 'r', check: probe }] }, /"dependencies\[1\].name" must be a unique non-empty string/],
    [{ dependencies: [{ name: 'r', check: probe, required: 'no' }] }, /"dependencies\[0\].required" must be a boolean/],
    [{ servers: [{}] }, /"servers\[0\]" must be a server with close\(\)/],
    [{ healthPath: 'health' }, /"healthPath"/],
    [{ readyPath: '/re ady' }, /"readyPath"/],
  ])('createLifecycle rejects %j', (options, message) => {
    expect(() => createLifecycle(options as never)).toThrow(message);
    expect(() => createLifecycle(options as never)).toThrow(/^@edgekit\/health createLifecycle: /);
  });

  it('linkBreakers rejects a bad registry or option', () => {
    const checker = createHealthChecker({ targets: [] });
    expect(() => linkBreakers(checker, {} as never)).toThrow(/registry must have get\(key\)/);
    expect(() => linkBreakers(checker, registry, { holdOpen: 'yes' } as never)).toThrow(/"holdOpen" must be a boolean/);
    expect(() => linkBreakers(checker, registry, { keyOf: 'eu' } as never)).toThrow(/"keyOf" must be a function/);
  });

  it('installSignalHandlers rejects bad signals and a missing lifecycle', () => {
    const source = new EventEmitter();
    const lifecycle = createLifecycle();
    expect(() => installSignalHandlers(lifecycle, { signals: [], source })).toThrow(/"signals" must be a non-empty array/);
    expect(() => installSignalHandlers(lifecycle, { exit: 0 as never, source })).toThrow(/"exit" must be a function/);
    expect(() => installSignalHandlers({} as never, { source })).toThrow(/lifecycle must have shutdown\(\)/);
    expect(source.listenerCount('SIGTERM')).toBe(0);
  });
});
