import { createManualClock } from '@edgekit/core/testing';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, BREAKER_DEFAULTS, Status } from '../src/index.js';

const action = async (): Promise<number> => 1;

describe('options: defaults', () => {
  it('exposes opossum defaults in BREAKER_DEFAULTS and in breaker.options', () => {
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
    expect(BREAKER_DEFAULTS.timeout).toBe(10_000);
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

describe('options: every value opossum accepts is accepted', () => {
  const accepted: Array<Record<string, unknown>> = [
    { timeout: 0 },
    { timeout: false },
    { timeout: -1 },
    { resetTimeout: 0 },
    { errorThresholdPercentage: 0 },
    { errorThresholdPercentage: 150 },
    { volumeThreshold: 0 },
    { volumeThreshold: 2.5 },
    { rollingCountTimeout: 0 },
    { rollingCountBuckets: 0 },
    { rollingCountTimeout: 5, rollingCountBuckets: 10 },
    { capacity: 0 },
    { capacity: 1.5 },
    { cacheTTL: 0 },
    { cacheSize: 0 },
    { coalesceTTL: 0 },
    { coalesceResetOn: ['error', 'later'] },
    { allowWarmUp: 1 },
    { enabled: 'no' },
    { rollingPercentilesEnabled: 'yes' },
    { enableSnapshots: null },
    { cacheTransport: {} },
    { name: '', group: '' },
  ];
  for (const options of accepted) {
    it(`accepts ${JSON.stringify(options)}`, () => {
      const breaker = new CircuitBreaker(action, options);
      breaker.shutdown();
    });
  }

  it('reads them as opossum does', () => {
    expect(new CircuitBreaker(action, { volumeThreshold: 2.5 }).volumeThreshold).toBe(0);
    expect(new CircuitBreaker(action, { capacity: 1.5 }).options.capacity).toBe(Number.MAX_SAFE_INTEGER);
    expect(new CircuitBreaker(action, { timeout: 0 }).options.timeout).toBe(0);
    expect(new CircuitBreaker(action, { coalesceResetOn: ['error', 'later'] as never }).options.coalesceResetOn).toEqual(['error']);
  });

  it("throws opossum's errors where opossum throws", () => {
    expect(() => new CircuitBreaker(undefined as never)).toThrow(
      new TypeError('No action provided. Cannot construct a CircuitBreaker without an invocable action.'),
    );
    expect(() => new CircuitBreaker(action, { cache: true, cacheTransport: { get() {} } as never })).toThrow(
      new TypeError('options.cacheTransport should be an object with `get`, `set` and `flush` methods'),
    );
    expect(() => new CircuitBreaker(action, { abortController: {} as never })).toThrow(new TypeError('AbortController does not contain `abort()` method'));
  });
});

describe('options: values of the wrong type raise an error naming the option and the value', () => {
  const cases: Array<[string, Record<string, unknown>, typeof TypeError | typeof RangeError]> = [
    ['timeout', { timeout: '1s' }, TypeError],
    ['timeout', { timeout: true }, TypeError],
    ['timeout', { timeout: Number.NaN }, TypeError],
    ['resetTimeout', { resetTimeout: Number.POSITIVE_INFINITY }, RangeError],
    ['errorThresholdPercentage', { errorThresholdPercentage: '50%' }, TypeError],
    ['errorFilter', { errorFilter: 'status >= 500' }, TypeError],
    ['name', { name: 42 }, TypeError],
    ['group', { group: 42 }, TypeError],
    ['cacheGetKey', { cacheGetKey: 'id' }, TypeError],
    ['coalesceResetOn', { coalesceResetOn: 'error' }, TypeError],
    ['rotateBucketController', { rotateBucketController: {} }, TypeError],
    ['mode', { mode: 'sliding' }, TypeError],
    ['failureThreshold', { failureThreshold: 0 }, RangeError],
    ['windowSize', { windowSize: 0 }, RangeError],
    ['slowCallRateThreshold', { slowCallRateThreshold: 101 }, RangeError],
    ['strategy', { strategy: 'fast' }, TypeError],
    ['halfOpenMaxCalls', { halfOpenMaxCalls: 0 }, RangeError],
    ['halfOpenMaxCalls', { halfOpenMaxCalls: 1.5 }, RangeError],
    ['appendSignal', { appendSignal: 'yes' }, TypeError],
    ['latencySampleSize', { latencySampleSize: 0 }, RangeError],
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

  it('validates Status options too', () => {
    expect(() => new Status({ rollingCountBuckets: 1.5 })).toThrow(/"rollingCountBuckets"/);
    expect(() => CircuitBreaker.newStatus({ latencySampleSize: 0 })).toThrow(RangeError);
  });
});
