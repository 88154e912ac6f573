import type { Disposable } from '@edgekit/core';
import type { Bus, BusEvents } from './types.js';

/** Events of a {@link DurableBus}, besides `gap` and `error`. */
export type DurableBusEvents = BusEvents & {
  /** Every message in the stream up to now has been applied here; `replayed` counts those applied while behind. */
  caughtUp: [info: { readonly at: number; readonly replayed: number; readonly behindSince: number }];
  /** The node can no longer prove it is caught up: the connection or the stream is unreachable. */
  behind: [info: { readonly at: number }];
};

/**
 * A {@link Bus} backed by a durable log: a node cut off from the log receives what it missed, in
 * order, once it can reach it again, and reports a `gap` only when the log itself lost messages
 * (retention expired them). It exposes how far behind it may be, so a caller can fail closed once
 * the node has been out of contact for longer than it tolerates.
 */
export interface DurableBus extends Bus {
  /** True once every message in the log up to the last contact has been applied. */
  readonly caughtUp: boolean;
  /** Messages in the log not yet applied here, as of the last contact. */
  readonly lag: number;
  /** Clock reading of the last confirmed contact with the log (a message or a state check); `undefined` before the first. */
  readonly lastContact: number | undefined;
  /** Resolves when the node is caught up (at once if it is); rejects with the signal's reason on abort. */
  whenCaughtUp(signal?: AbortSignal): Promise<void>;
  on<K extends keyof DurableBusEvents>(event: K, listener: (...args: DurableBusEvents[K]) => void): Disposable;
}
