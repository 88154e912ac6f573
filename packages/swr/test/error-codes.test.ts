import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { SwrError, isSwrError } from '../src/index.js';

describeErrorContract({
  ErrorClass: SwrError,
  guard: isSwrError,
  brand: 'swr',
  sample: ['ECLOSED', 'closed', { key: 'k' }],
  src: fileURLToPath(new URL('../src', import.meta.url)),
  errorsFile: fileURLToPath(new URL('../src/errors.ts', import.meta.url)),
  base: EdgekitError,
  isBase: isEdgekitError,
});
