import type { IncomingMessage } from 'node:http';
import type { TypedEmitter } from '@edgekit/core';
import type { Region } from '@edgekit/geo';
import type { Dispatcher } from 'undici';
import type { ConnectionQueue } from './connection-queue.js';
import type { ForwarderEvents } from './events.js';
import type { RequestObserver } from './observer.js';
import type { RegionSelectorLike } from './options.js';
import type { ResolvedOptions } from './options-resolve.js';
import type { RequestHeaderSettings, RequestScan } from './request-headers.js';
import type { ResponseHeaderSettings } from './response-headers.js';
import type { RouteFailures } from './route-failures.js';

/** Where requests for one region go. */
export interface Target {
  readonly dispatcher: Dispatcher;
  /** Path prefix of the region URL without the trailing slash (`''` for none). */
  readonly basePath: string;
  /** Origin of the region URL, for request observers. */
  readonly origin: string;
  /** Admission to the region's connections, with the queue timeout. */
  readonly queue: ConnectionQueue;
}

/** What every exchange of one forwarder shares. */
export interface ForwarderCore {
  readonly options: ResolvedOptions;
  readonly events: TypedEmitter<ForwarderEvents>;
  readonly selector: RegionSelectorLike;
  /** The client address from the socket peer and the forwarding headers found by the scan. */
  clientIpOf(remote: string | undefined, scan: RequestScan): string;
  /** `undefined` when no proxy is trusted. */
  readonly isTrusted: ((ip: string) => boolean) | undefined;
  readonly requestHeaders: RequestHeaderSettings;
  readonly responseHeaders: ResponseHeaderSettings;
  readonly closed: boolean;
  targetOf(region: Region): Target;
  /** Normalised form of a trusted peer's socket address (`''` when it is not an address). */
  normalizePeer(remote: string): string;
  /** The observers of `req` from `forwarder.observe`, or `undefined` when there are none. */
  observeRequest(req: IncomingMessage): RequestObserver[] | undefined;
  readonly routeFailures: RouteFailures;
  /** Counts a request against its client's in-flight cap; `false` when the cap is reached. */
  enterClient(key: string): boolean;
  leaveClient(key: string): void;
  /** Exchanges relaying a streaming response, ended cleanly by `close()`. */
  readonly streams: Set<{ endStream(reason: string): void }>;
  /** Whether a request that found every breaker open goes to the primary anyway (`panicFraction`). */
  panicAdmit(): boolean;
  /**
   * Whether the configured health checks say `region` serves (evidence that a failure is a route's,
   * not the region's). Never for a region with endpoints: its endpoints' own outcomes are the evidence.
   */
  healthVouchesFor(region: string): boolean;
}
