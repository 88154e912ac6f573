import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { declaredErrorCodes, raisedErrorCodes } from '@edgekit/test-utils';
import { describe, expect, it } from 'vitest';
import { BusError, isBusError } from '../src/index.js';

const src = fileURLToPath(new URL('../src', import.meta.url));
const errorsFile = fileURLToPath(new URL('../src/errors.ts', import.meta.url));

describe('BusError codes and guard', () => {
  it('raises only codes listed in BusErrorCode', () => {
    const raised = raisedErrorCodes(src, ['BusError']);
    expect(raised.length).toBeGreaterThan(0);
    expect(raised.filter((code) => !declaredErrorCodes(errorsFile, 'BusErrorCode').includes(code))).toEqual([]);
  });

  it('has the (code, message, context) shape and a guard that works across copies of the package', () => {
    const error = new BusError('EBUSCLOSED', 'closed', { channel: 'c' });
    expect(error).toBeInstanceOf(EdgekitError);
    expect([error.code, error.message]).toEqual(['EBUSCLOSED', 'closed']);
    expect(isBusError(error)).toBe(true);
    expect(isEdgekitError(error)).toBe(true);
    // Another copy of the package (a second install, or the CJS build next to the ESM one) has its
    // own classes, so instanceof fails; the registered brands still match.
    class CopiedError extends Error {}
    Object.defineProperty(CopiedError.prototype, Symbol.for('edgekit.error'), { value: true });
    Object.defineProperty(CopiedError.prototype, Symbol.for('edgekit.bus.error'), { value: true });
    expect(isBusError(new CopiedError('copy'))).toBe(true);
    expect(isEdgekitError(new CopiedError('copy'))).toBe(true);
    expect(isBusError(new Error('plain'))).toBe(false);
    expect(isBusError(Object.assign(new Error('look-alike'), { code: 'EBUSCLOSED', name: error.name }))).toBe(false);
  });
});
