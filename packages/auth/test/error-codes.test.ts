import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { AuthError, isAuthError } from '../src/index.js';

describeErrorContract({
  ErrorClass: AuthError,
  guard: isAuthError,
  brand: 'auth',
  sample: ['ENOCREDENTIALS', 'no credentials', { scheme: 'apiKey' }],
  src: fileURLToPath(new URL('../src', import.meta.url)),
  errorsFile: fileURLToPath(new URL('../src/errors.ts', import.meta.url)),
  base: EdgekitError,
  isBase: isEdgekitError,
});
