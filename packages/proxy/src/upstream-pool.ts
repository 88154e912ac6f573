import type { ConnectionOptions } from 'node:tls';
import { type Dispatcher, Pool } from 'undici';
import { Http2Pools, type Http2Settings } from './http2-pools.js';
import type { DispatcherDefaults } from './options.js';

/**
 * The connection pool of one upstream origin (a region URL or an endpoint): undici's `Pool` for
 * HTTP/1.1, {@link Http2Pools} with `http2`; `tls` applies to `https:` origins only.
 */
export function createUpstreamPool(origin: string, defaults: DispatcherDefaults, http2: Http2Settings | undefined, tls: ConnectionOptions | undefined): Dispatcher {
  const url = new URL(origin);
  const secure = url.protocol === 'https:' ? tls : undefined;
  if (http2 !== undefined) return new Http2Pools(url.origin, defaults, http2, secure);
  return new Pool(url.origin, {
    connections: defaults.connections,
    connectTimeout: defaults.connectTimeout,
    headersTimeout: defaults.headersTimeout,
    bodyTimeout: defaults.bodyTimeout,
    keepAliveTimeout: defaults.keepAliveTimeout,
    pipelining: 1,
    ...(secure !== undefined && { connect: secure as Pool.Options['connect'] }),
  });
}
