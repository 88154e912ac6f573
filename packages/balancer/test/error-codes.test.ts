import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { BalancerError, isBalancerError } from '../src/index.js';

describeErrorContract({
  ErrorClass: BalancerError,
  guard: isBalancerError,
  brand: 'balancer',
  sample: ['EDNS', 'lookup failed', { target: 'api.example' }],
  src: fileURLToPath(new URL('../src', import.meta.url)),
  errorsFile: fileURLToPath(new URL('../src/errors.ts', import.meta.url)),
  base: EdgekitError,
  isBase: isEdgekitError,
});
