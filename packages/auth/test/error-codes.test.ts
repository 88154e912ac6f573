import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { declaredErrorCodes, raisedErrorCodes } from '@edgekit/test-utils';
import { describe, expect, it } from 'vitest';
import { AuthError, isAuthError } from '../src/index.js';

const src = fileURLToPath(new URL('../src', import.meta.url));
const errorsFile = fileURLToPath(new URL('../src/errors.ts', import.meta.url));

describe('AuthError codes and guard', () => {
  it('raises only codes listed in AuthErrorCode', () => {
    const raised = raisedErrorCodes(src, ['AuthError']);
    expect(raised.length).toBeGreaterThan(0);
    expect(raised.filter((code) => !declaredErrorCodes(errorsFile, 'AuthErrorCode').includes(code))).toEqual([]);
  });

  it('has the (code, message, context) shape and a guard that works across copies of the package', () => {
    const error = new AuthError('ENOCREDENTIALS', 'no credentials', { scheme: 'apiKey' });
    expect(error).toBeInstanceOf(EdgekitError);
    expect([error.code, error.message]).toEqual(['ENOCREDENTIALS', 'no credentials']);
    expect(isAuthError(error)).toBe(true);
    expect(isEdgekitError(error)).toBe(true);
    // Another copy of the package (a second install, or the CJS build next to the ESM one) has its
    // own classes, so instanceof fails; the registered brands still match.
    class CopiedError extends Error {}
    Object.defineProperty(CopiedError.prototype, Symbol.for('edgekit.error'), { value: true });
    Object.defineProperty(CopiedError.prototype, Symbol.for('edgekit.auth.error'), { value: true });
    expect(isAuthError(new CopiedError('copy'))).toBe(true);
    expect(isEdgekitError(new CopiedError('copy'))).toBe(true);
    expect(isAuthError(new Error('plain'))).toBe(false);
    expect(isAuthError(Object.assign(new Error('look-alike'), { code: 'ENOCREDENTIALS', name: error.name }))).toBe(false);
  });
});
