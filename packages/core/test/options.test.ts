import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkNumber, describeValue, optionalBoolean, optionalOneOf, rejectRenamedOptions } from '../src/index.js';

describe('option checks', () => {
  it('names the scope, the option and the value', () => {
    expect(() => checkNumber('@edgekit/x', 'timeout', 'soon', { min: 0 })).toThrow(
      new TypeError('@edgekit/x: option "timeout" must be a number >= 0 (got "soon")'),
    );
    expect(() => checkNumber('@edgekit/x', 'buckets', 2.5, { integer: true, min: 1 })).toThrow(RangeError);
    expect(() => checkNumber('@edgekit/x', 'rate', 0, { min: 0, exclusiveMin: true })).toThrow(/> 0/);
    expect(() => checkNumber('@edgekit/x', 'n', Infinity)).toThrow(RangeError);
    expect(checkNumber('@edgekit/x', 'n', Infinity, { allowInfinity: true })).toBe(Infinity);
  });

  it('refuses a renamed option with a coded TypeError naming the old and the new name', () => {
    let thrown: unknown;
    try {
      rejectRenamedOptions('@edgekit/x', { limit: 1, maxKeys: 5 }, { maxKeys: 'max' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect(thrown).toMatchObject({ code: 'ERR_RENAMED_OPTION', message: '@edgekit/x: option "maxKeys" was renamed; use "max" instead' });
    expect(() => rejectRenamedOptions('@edgekit/x', { max: 5 }, { maxKeys: 'max' })).not.toThrow();
    expect(() => rejectRenamedOptions('@edgekit/x', Object.create({ maxKeys: 5 }) as object, { maxKeys: 'max' })).not.toThrow();
  });

  it('checks booleans and enumerations', () => {
    expect(optionalBoolean('s', 'on', undefined, true)).toBe(true);
    expect(() => optionalBoolean('s', 'on', 'yes', true)).toThrow(/option "on" must be a boolean/);
    expect(optionalOneOf('s', 'mode', 'edge', ['local', 'edge'] as const, 'local')).toBe('edge');
    expect(() => optionalOneOf('s', 'mode', 'cloud', ['local', 'edge'] as const, 'local')).toThrow(/"local", "edge"/);
  });

  it('describes any value without throwing and without growing past 80 characters', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(describeValue(cyclic)).toBe('[object Object]');
    fc.assert(
      fc.property(fc.anything(), (value) => {
        expect(describeValue(value).length).toBeLessThanOrEqual(80);
      }),
    );
  });
});
