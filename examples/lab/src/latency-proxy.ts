// The latency proxy lives in @edgekit/test-utils, where package tests use it too.
export { type LatencyProxy, type LatencyProxyOptions, startLatencyProxy } from '@edgekit/test-utils/node';
