import {
  type AffinitySource,
  type BalancerChoice,
  type EndpointInput,
  type EndpointSet,
  type OutlierDetectionOptions,
  type RegionBalancer,
  createRegionBalancer,
} from '@edgekit/balancer';
import { type Clock, optionalNumber } from '@edgekit/core';
import type { Region } from '@edgekit/geo';
import { EndpointDispatcher } from './endpoint-dispatcher.js';
import type { ConnectionOptions } from 'node:tls';
import type { Http2Settings } from './http2-pools.js';
import { type DispatcherDefaults, SCOPE } from './options.js';

/** Defaults of the endpoint settings of a region. */
export const REGION_ENDPOINTS_DEFAULTS = Object.freeze({ queuePerEndpoint: 256 });

/**
 * A region served by several instances instead of one URL: its `url` still gives the path prefix,
 * requests go to the endpoints. Everything but `endpoints` is optional.
 */
export interface EndpointRegion extends Region {
  /** A list of origins, an `EndpointSet` (DNS discovery), or a ready `RegionBalancer` (not closed with the forwarder: it may be shared across reloads). */
  endpoints: readonly EndpointInput[] | EndpointSet | RegionBalancer;
  /** Balancer by name or factory. Default `'least-request'`. */
  balancer?: BalancerChoice;
  /** Where the affinity key of a request comes from (for `'ring-hash'` and `'maglev'`). Default: none. */
  affinity?: AffinitySource;
  /** Outlier detection, or `false`. Default: Envoy's defaults. */
  outlierDetection?: OutlierDetectionOptions | false;
  /** Below this percentage of healthy endpoints, ejections are ignored. Default 50. */
  panicThreshold?: number;
  /** The region is healthy while at least this percentage of endpoints is. Default 50. */
  minHealthyPercent?: number;
  /** Connections per endpoint at most. Default: the forwarder's `connections`. */
  connectionsPerEndpoint?: number;
  /** Requests per endpoint waiting for a connection at most; beyond, requests are answered 503 at once. Default 256. */
  queuePerEndpoint?: number;
}

/** True when `region` lists endpoints. */
export function hasEndpoints(region: Region): region is EndpointRegion {
  return (region as Partial<EndpointRegion>).endpoints !== undefined;
}

const isRegionBalancer = (value: unknown): value is RegionBalancer =>
  value !== null && typeof value === 'object' && typeof (value as RegionBalancer).pick === 'function' && typeof (value as RegionBalancer).onRequestEnd === 'function';

/** Builds the dispatcher of a region with endpoints; `option` names the region in error messages. */
export function createEndpointDispatcher(region: EndpointRegion, defaults: DispatcherDefaults, clock: Clock, option: string, http2?: Http2Settings, tls?: ConnectionOptions): EndpointDispatcher {
  const scope = `${SCOPE}: ${option}`;
  const connections = optionalNumber(scope, 'connectionsPerEndpoint', region.connectionsPerEndpoint, defaults.connections, { min: 1, integer: true });
  const maxQueue = optionalNumber(scope, 'queuePerEndpoint', region.queuePerEndpoint, REGION_ENDPOINTS_DEFAULTS.queuePerEndpoint, { min: 0, integer: true });
  let balancer: RegionBalancer;
  const given = isRegionBalancer(region.endpoints);
  try {
    balancer = isRegionBalancer(region.endpoints)
      ? region.endpoints
      : createRegionBalancer({
          name: region.name,
          endpoints: region.endpoints as Exclude<EndpointRegion['endpoints'], RegionBalancer>,
          clock,
          ...(region.balancer !== undefined && { balancer: region.balancer }),
          ...(region.outlierDetection !== undefined && { outlierDetection: region.outlierDetection }),
          ...(region.panicThreshold !== undefined && { panicThreshold: region.panicThreshold }),
          ...(region.minHealthyPercent !== undefined && { minHealthyPercent: region.minHealthyPercent }),
        });
  } catch (error) {
    throw new TypeError(`${scope}: ${(error as Error).message}`, { cause: error });
  }
  // A region balancer passed in belongs to the caller (it may outlive this forwarder, across reloads).
  return new EndpointDispatcher(balancer, defaults, { connections, maxQueue, http2, tls }, region.affinity, () => clock.now(), !given);
}
