import { createManualClock } from '@edgekit/core';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, DEFAULTS, Status } from '../src/index.js';

const action = async (): Promise<number> => 1;

describe('options: defaults', () => {
  it('exposes opossum defaults in DEFAULTS and in breaker.options', () => {
    const breaker = new CircuitBreaker(action, { clock: createManualClock() });
    expect(breaker.options).toMatchObject({
      timeout: 10_000,
      resetTimeout: 30_000,
      errorThresholdPercentage: 50,
      volumeThreshold: 0,
      rollingCountTimeout: 10_000,
      rollingCountBuckets: 10,
      rollingPercentilesEnabled: true,
      capacity: Number.MAX_SAFE_INTEGER,
      allowWarmUp: false,
      enabled: true,
      cache: false,
      coalesce: false,
      mode: 'percentage',
      failureThreshold: 5,
      halfOpenMaxCalls: 1,
      appendSignal: false,
    });
    expect(DEFAULTS.timeout).toBe(10_000);
    expect(Object.isFrozen(breaker.options)).toBe(true);
    expect(breaker.volumeThreshold).toBe(0);
  });

  it('uses the timeout as the default coalesceTTL, and 0 (forever) when timeouts are off', () => {
    expect(new CircuitBreaker(action, { timeout: 250 }).options.coalesceTTL).toBe(250);
    expect(new CircuitBreaker(action, { timeout: false }).options.coalesceTTL).toBe(0);
  });

  it('does not touch the options object it was given', () => {
    const options = { timeout: 100 };
    new CircuitBreaker(action, options);
    expect(options).toEqual({ timeout: 100 });
  });
});

describe('options: bad values raise an error naming the option and the value', () => {
  const cases: Array<[string, Record<string, unknown>, typeof TypeError | typeof RangeError]> = [
    ['timeout', { timeout: '1s' }, TypeError],
    ['timeout', { timeout: true }, TypeError],
    ['timeout', { timeout: -1 }, RangeError],
    ['timeout', { timeout: Number.NaN }, TypeError],
    ['resetTimeout', { resetTimeout: -5 }, RangeError],
    ['resetTimeout', { resetTimeout: Number.POSITIVE_INFINITY }, RangeError],
    ['errorThresholdPercentage', { errorThresholdPercentage: 150 }, RangeError],
    ['errorThresholdPercentage', { errorThresholdPercentage: '50%' }, TypeError],
    ['volumeThreshold', { volumeThreshold: 2.5 }, RangeError],
    ['rollingCountTimeout', { rollingCountTimeout: 0 }, RangeError],
    ['rollingCountBuckets', { rollingCountBuckets: 0 }, RangeError],
    ['rollingCountBuckets', { rollingCountTimeout: 5, rollingCountBuckets: 10 }, RangeError],
    ['rollingPercentilesEnabled', { rollingPercentilesEnabled: 'yes' }, TypeError],
    ['capacity', { capacity: -1 }, RangeError],
    ['capacity', { capacity: 1.5 }, RangeError],
    ['allowWarmUp', { allowWarmUp: 1 }, TypeError],
    ['errorFilter', { errorFilter: 'status >= 500' }, TypeError],
    ['enabled', { enabled: 'no' }, TypeError],
    ['name', { name: '' }, TypeError],
    ['group', { group: 42 }, TypeError],
    ['cache', { cache: 'yes' }, TypeError],
    ['cacheTTL', { cacheTTL: -1 }, RangeError],
    ['cacheSize', { cacheSize: 0 }, RangeError],
    ['cacheGetKey', { cacheGetKey: 'id' }, TypeError],
    ['cacheTransport', { cacheTransport: { get() {} } }, TypeError],
    ['coalesce', { coalesce: 1 }, TypeError],
    ['coalesceTTL', { coalesceTTL: -1 }, RangeError],
    ['coalesceSize', { coalesceSize: 0.5 }, RangeError],
    ['coalesceResetOn', { coalesceResetOn: ['error', 'later'] }, TypeError],
    ['coalesceResetOn', { coalesceResetOn: 'error' }, TypeError],
    ['abortController', { abortController: {} }, TypeError],
    ['autoRenewAbortController', { autoRenewAbortController: 'true' }, TypeError],
    ['enableSnapshots', { enableSnapshots: null }, TypeError],
    ['rotateBucketController', { rotateBucketController: {} }, TypeError],
    ['mode', { mode: 'sliding' }, TypeError],
    ['failureThreshold', { failureThreshold: 0 }, RangeError],
    ['halfOpenMaxCalls', { halfOpenMaxCalls: 0 }, RangeError],
    ['halfOpenMaxCalls', { halfOpenMaxCalls: 1.5 }, RangeError],
    ['appendSignal', { appendSignal: 'yes' }, TypeError],
    ['latencySampleSize', { latencySampleSize: 0 }, RangeError],
    ['timeoutResolution', { timeoutResolution: -1 }, RangeError],
    ['clock', { clock: { now: () => 0 } }, TypeError],
    ['state', { state: 'open' }, TypeError],
    ['initialState', { initialState: { status: {} } }, TypeError],
    ['status', { status: 7 }, TypeError],
  ];

  for (const [name, options, ErrorClass] of cases) {
    it(`${ErrorClass.name} for ${name}: ${JSON.stringify(options)}`, () => {
      let thrown: unknown;
      try {
        new CircuitBreaker(action, options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ErrorClass);
      expect((thrown as Error).message).toContain(`"${name}"`);
      expect((thrown as Error).message).toContain('@edgekit/breaker');
    });
  }

  it('rejects options that are not an object', () => {
    expect(() => new CircuitBreaker(action, 5 as never)).toThrow(TypeError);
    expect(() => new CircuitBreaker(action, [] as never)).toThrow(/options must be an object/);
  });

  it('rejects a missing action with a TypeError naming it', () => {
    expect(() => new CircuitBreaker(undefined as never)).toThrow(/"action" is required/);
  });

  it('validates Status options too', () => {
    expect(() => new Status({ rollingCountBuckets: -1 })).toThrow(/"rollingCountBuckets"/);
    expect(() => CircuitBreaker.newStatus({ latencySampleSize: 0 })).toThrow(RangeError);
  });
});
