import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { EdgeClientError, isEdgeClientError } from '../src/index.js';

describeErrorContract({
  ErrorClass: EdgeClientError,
  guard: isEdgeClientError,
  brand: 'client',
  sample: ['EUPSTREAM', 'request failed from eu-1', { edgesTried: ['eu-1'], region: 'eu' }],
  src: fileURLToPath(new URL('../src', import.meta.url)),
  errorsFile: fileURLToPath(new URL('../src/errors.ts', import.meta.url)),
  base: EdgekitError,
  isBase: isEdgekitError,
});
