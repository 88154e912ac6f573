import { EdgekitError, brandError } from '@edgekit/core';

/** Codes of {@link BusError}. */
export type BusErrorCode =
  /** `publish()` or `subscribe()` on a bus that was closed. */
  | 'EBUSCLOSED'
  /** The encoded message is larger than `maxMessageBytes` (or the transport's own limit). */
  | 'EMSGSIZE'
  /** The payload cannot be encoded as JSON (a `BigInt`, a cycle, `undefined`). */
  | 'EBADPAYLOAD'
  /** The channel name is empty, too long or holds control characters. */
  | 'EBADCHANNEL'
  /** The transport did not confirm a publish within `publishTimeout`. */
  | 'ETIMEDOUT'
  /** A received message could not be decoded; it was dropped. */
  | 'EBUSDECODE'
  /** A subscriber's handler threw; the other handlers still ran (the thrown value is the `cause`). */
  | 'EBUSHANDLER'
  /** The transport failed (the client's error is the `cause`). */
  | 'EBUSTRANSPORT';

/** An error thrown or reported (on the `error` event) by an `@edgekit/bus` bus. */
export class BusError extends EdgekitError {
  declare readonly code: BusErrorCode;
  /** The channel involved, when there is one. */
  readonly channel: string | undefined;

  constructor(code: BusErrorCode, message: string, context: { channel?: string; cause?: unknown } = {}) {
    super(code, message, context.cause === undefined ? undefined : { cause: context.cause });
    this.channel = context.channel;
  }
}

/** True for a {@link BusError}, also one thrown by another copy of this package. */
export const isBusError: (value: unknown) => value is BusError = brandError(BusError, 'edgekit.bus.error');
