import { type Disposable, type Listener, TypedEmitter } from '@edgekit/core';
import type { BalancerError } from './errors.js';
import { type Endpoint, type EndpointInput, sameEndpoints, toEndpoints } from './endpoint.js';

/** Events of an {@link EndpointSet}. */
export type EndpointSetEvents = {
  /** The list changed; listeners get the new list. */
  change: [endpoints: readonly Endpoint[]];
  /** Discovery failed; the last known list stays in use. */
  error: [error: BalancerError];
};

/**
 * The endpoints of one service in one region, as discovery knows them now: a static list, DNS
 * (A/AAAA, SRV) or your own source. Pluggable: a region balancer only reads `current()` and
 * listens to `change`.
 */
export interface EndpointSet {
  /** The endpoints known now (empty before the first discovery answer). */
  current(): readonly Endpoint[];
  /** Resolves once the first discovery answer arrived (at once for a static list). */
  ready(): Promise<void>;
  /** Adds a listener; returns a disposable that removes it. */
  on<K extends keyof EndpointSetEvents>(event: K, listener: Listener<EndpointSetEvents, K>): Disposable;
  /** Stops discovery. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A fixed endpoint set that you may replace with `set()` (from your own discovery). */
export interface StaticEndpointSet extends EndpointSet {
  /** Replaces the list; emits `change` when it differs. */
  set(endpoints: readonly EndpointInput[]): void;
}

/** A fixed list of endpoints, replaceable by hand. */
export function createStaticEndpoints(endpoints: readonly EndpointInput[]): StaticEndpointSet {
  const events = new TypedEmitter<EndpointSetEvents>();
  let current: readonly Endpoint[] = Object.freeze(toEndpoints(endpoints, 'static endpoints'));
  const close = async (): Promise<void> => {};
  return {
    current: () => current,
    ready: () => Promise.resolve(),
    on: (event, listener) => events.on(event, listener),
    set(list) {
      const next = Object.freeze(toEndpoints(list, 'static endpoints'));
      if (sameEndpoints(current, next)) return;
      current = next;
      events.emit('change', current);
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** True when `value` looks like an {@link EndpointSet}. */
export function isEndpointSet(value: unknown): value is EndpointSet {
  return value !== null && typeof value === 'object' && typeof (value as EndpointSet).current === 'function' && typeof (value as EndpointSet).on === 'function';
}
