import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { CacheError, isCacheError } from '../src/index.js';

describeErrorContract({
  ErrorClass: CacheError,
  guard: isCacheError,
  brand: 'cache',
  sample: ['ECACHESTORE', 'store failed', { key: 'k' }],
  src: fileURLToPath(new URL('../src', import.meta.url)),
  errorsFile: fileURLToPath(new URL('../src/errors.ts', import.meta.url)),
  base: EdgekitError,
  isBase: isEdgekitError,
});
