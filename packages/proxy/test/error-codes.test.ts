import { fileURLToPath } from 'node:url';
import { EdgekitError, isEdgekitError } from '@edgekit/core';
import { describeErrorContract } from '@edgekit/test-utils';
import { ForwardError, ProxyError, isForwardError, isProxyError } from '../src/index.js';

const src = fileURLToPath(new URL('../src', import.meta.url));
const errorsFile = fileURLToPath(new URL('../src/errors.ts', import.meta.url));

describeErrorContract({
  ErrorClass: ForwardError,
  guard: isForwardError,
  brand: 'proxy',
  sample: ['EUPSTREAM', 'every region tried failed', { regionsTried: ['eu-west', 'us-east'] }],
  src,
  errorsFile,
  base: EdgekitError,
  isBase: isEdgekitError,
});

describeErrorContract({
  ErrorClass: ProxyError,
  guard: isProxyError,
  brand: 'proxy-attempt',
  sample: ['EUPSTREAMSTATUS', 'region eu-west answered 503', { region: 'eu-west' }],
  src,
  errorsFile,
  classNames: ['ProxyError', 'UpstreamStatusError', 'GrpcStatusError', 'EndpointOverflowError'],
  base: EdgekitError,
  isBase: isEdgekitError,
});
