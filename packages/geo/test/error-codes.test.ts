import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { GeoError, isGeoError } from '../src/index.js';

describeErrorContract({
  ErrorClass: GeoError,
  guard: isGeoError,
  brand: 'geo',
  sample: ['ENOTREADY', 'not ready', { resolver: 'mmdb' }],
  src: fileURLToPath(new URL('../src', import.meta.url)),
  errorsFile: fileURLToPath(new URL('../src/errors.ts', import.meta.url)),
  base: EdgekitError,
  isBase: isEdgekitError,
});
