import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { HealthCheckError, isHealthCheckError } from '../src/index.js';

describeErrorContract({
  ErrorClass: HealthCheckError,
  guard: isHealthCheckError,
  brand: 'health',
  sample: ['ETIMEDOUT', 'eu: no probe result', { target: 'eu' }],
  src: fileURLToPath(new URL('../src', import.meta.url)),
  errorsFile: fileURLToPath(new URL('../src/errors.ts', import.meta.url)),
  codeType: 'HealthErrorCode',
  base: EdgekitError,
  isBase: isEdgekitError,
});
