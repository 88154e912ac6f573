import type { Disposable } from '@edgekit/core';
import type { BusError } from './errors.js';

/** What a subscriber learns about a message besides its payload. */
export interface BusMeta {
  /** `nodeId` of the bus that published it. */
  readonly origin: string;
  /** Publisher's clock reading at publish time, in milliseconds. */
  readonly sentAt: number;
  /** True when this node published the message itself. */
  readonly local: boolean;
}

/** Why delivery may have had a gap. */
export interface BusGap {
  /** `disconnected`: messages published from now on may be missed; `reconnected`: messages may have been missed. */
  readonly kind: 'disconnected' | 'reconnected';
  /** Clock reading when the gap was noticed. */
  readonly at: number;
}

/** Bus events. */
export type BusEvents = {
  /** Delivery may have had a gap: a subscriber that caches must assume it missed messages. */
  gap: [gap: BusGap];
  /** A message could not be decoded, a handler threw, or the transport failed. */
  error: [error: BusError];
};

/**
 * A broadcast channel between gateway nodes: cache invalidation, API-key revocation. Delivery is
 * at most once; a node learns of possible losses through the `gap` event and must then drop what
 * it cannot prove is still valid.
 */
export interface Bus {
  /** Identifies this node in {@link BusMeta.origin}. */
  readonly nodeId: string;
  /** False while the transport is down (messages may be missed). */
  readonly connected: boolean;
  /** Sends `payload` (any JSON value) to every subscriber of `channel` on every node, this one included. */
  publish(channel: string, payload: unknown): Promise<void>;
  /** Calls `handler` for each message on `channel`; dispose the result to unsubscribe. */
  subscribe<T = unknown>(channel: string, handler: (payload: T, meta: BusMeta) => void): Disposable;
  /** Listens to `gap` and `error` events. */
  on<K extends keyof BusEvents>(event: K, listener: (...args: BusEvents[K]) => void): Disposable;
  /** Unsubscribes everything and releases the transport. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
