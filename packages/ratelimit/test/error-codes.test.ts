import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { RateLimitError, isRateLimitError } from '../src/index.js';

describeErrorContract({
  ErrorClass: RateLimitError,
  guard: isRateLimitError,
  brand: 'ratelimit',
  sample: ['EREDISDOWN', 'Redis is not connected', { key: 'client-1' }],
  src: fileURLToPath(new URL('../src', import.meta.url)),
  errorsFile: fileURLToPath(new URL('../src/errors.ts', import.meta.url)),
  base: EdgekitError,
  isBase: isEdgekitError,
});
