import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { BreakerError, isBreakerError } from '../src/index.js';

describeErrorContract({
  ErrorClass: BreakerError,
  guard: isBreakerError,
  brand: 'breaker',
  sample: ['EOPENBREAKER', 'Breaker is open', { breaker: 'eu' }],
  src: fileURLToPath(new URL('../src', import.meta.url)),
  errorsFile: fileURLToPath(new URL('../src/errors.ts', import.meta.url)),
  base: EdgekitError,
  isBase: isEdgekitError,
});
