import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { BusError, isBusError } from '../src/index.js';

describeErrorContract({
  ErrorClass: BusError,
  guard: isBusError,
  brand: 'bus',
  sample: ['EBUSCLOSED', 'closed', { channel: 'c' }],
  src: fileURLToPath(new URL('../src', import.meta.url)),
  errorsFile: fileURLToPath(new URL('../src/errors.ts', import.meta.url)),
  base: EdgekitError,
  isBase: isEdgekitError,
});
