import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { declaredErrorCodes, raisedErrorCodes } from '@edgekit/test-utils';
import { describe, expect, it } from 'vitest';
import { HealthCheckError, isHealthCheckError } from '../src/index.js';

const src = fileURLToPath(new URL('../src', import.meta.url));
const errorsFile = fileURLToPath(new URL('../src/errors.ts', import.meta.url));

describe('HealthCheckError codes and guard', () => {
  it('raises only codes listed in HealthErrorCode', () => {
    const raised = raisedErrorCodes(src, ['HealthCheckError']);
    expect(raised.length).toBeGreaterThan(0);
    expect(raised.filter((code) => !declaredErrorCodes(errorsFile, 'HealthErrorCode').includes(code))).toEqual([]);
  });

  it('has the (code, message, context) shape and a guard that works across copies of the package', () => {
    const error = new HealthCheckError('ETIMEDOUT', 'eu: no probe result', { target: 'eu' });
    expect(error).toBeInstanceOf(EdgekitError);
    expect([error.code, error.message]).toEqual(['ETIMEDOUT', 'eu: no probe result']);
    expect(isHealthCheckError(error)).toBe(true);
    expect(isEdgekitError(error)).toBe(true);
    // Another copy of the package (a second install, or the CJS build next to the ESM one) has its
    // own classes, so instanceof fails; the registered brands still match.
    class CopiedError extends Error {}
    Object.defineProperty(CopiedError.prototype, Symbol.for('edgekit.error'), { value: true });
    Object.defineProperty(CopiedError.prototype, Symbol.for('edgekit.health.error'), { value: true });
    expect(isHealthCheckError(new CopiedError('copy'))).toBe(true);
    expect(isEdgekitError(new CopiedError('copy'))).toBe(true);
    expect(isHealthCheckError(new Error('plain'))).toBe(false);
    expect(isHealthCheckError(Object.assign(new Error('look-alike'), { code: 'ETIMEDOUT', name: error.name }))).toBe(false);
  });
});
