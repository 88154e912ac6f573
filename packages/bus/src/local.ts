import { type Clock, type Disposable, TypedEmitter, toDisposable } from '@edgekit/core';
import { BusError } from './errors.js';
import type { BusEvents, BusMeta } from './types.js';

export const SCOPE = '@edgekit/bus';

/** Defaults shared by every bus driver. */
export const BUS_DEFAULTS = {
  /** Largest encoded message accepted, in bytes. */
  maxMessageBytes: 65_536,
  /** How long `publish()` waits for the transport, in ms. */
  publishTimeout: 1000,
} as const;

type Handler = (payload: unknown, meta: BusMeta) => void;

/** Channel bookkeeping shared by every bus implementation: local handlers and safe dispatch. */
export class LocalDispatch {
  readonly events = new TypedEmitter<BusEvents>();
  readonly #handlers = new Map<string, Set<Handler>>();

  /** Adds a handler; `onFirst`/`onLast` run when a channel gains its first or loses its last handler. */
  add(channel: string, handler: Handler, onFirst?: (channel: string) => void, onLast?: (channel: string) => void): Disposable {
    let set = this.#handlers.get(channel);
    if (!set) {
      set = new Set();
      this.#handlers.set(channel, set);
      onFirst?.(channel);
    }
    set.add(handler);
    return toDisposable(() => {
      const current = this.#handlers.get(channel);
      if (!current?.delete(handler) || current.size > 0) return;
      this.#handlers.delete(channel);
      onLast?.(channel);
    });
  }

  /** Delivers to every handler of `channel`; a handler that throws is reported and the rest still run. */
  dispatch(channel: string, payload: unknown, meta: BusMeta): void {
    const set = this.#handlers.get(channel);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(payload, meta);
      } catch (error) {
        this.report(new BusError('EBUSHANDLER', `${SCOPE}: a handler of "${channel}" threw: ${error instanceof Error ? error.message : String(error)}`, { channel, cause: error }));
      }
    }
  }

  /** Emits `error`. */
  report(error: BusError): void {
    this.events.emit('error', error);
  }

  has(channel: string): boolean {
    return this.#handlers.has(channel);
  }

  channels(): string[] {
    return [...this.#handlers.keys()];
  }

  clear(): void {
    this.#handlers.clear();
    this.events.removeAllListeners();
  }
}

/** Checks a channel name: a non-empty string without control characters, at most 256 characters. */
export function checkChannel(channel: unknown): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject
  if (typeof channel !== 'string' || channel.length === 0 || channel.length > 256 || /[\u0000-\u001f\u007f]/.test(channel)) {
    throw new BusError('EBADCHANNEL', `${SCOPE}: channel must be a non-empty string of at most 256 printable characters (got ${JSON.stringify(String(channel)).slice(0, 80)})`);
  }
  return channel;
}

/** Throws `EBUSCLOSED` when `closed`. */
export function checkOpen(closed: boolean, operation: string, channel: string): void {
  if (closed) throw new BusError('EBUSCLOSED', `${SCOPE}: ${operation} on "${channel}" after close()`, { channel });
}

/** The wire form of a message: origin node, publisher clock reading, payload. */
export interface Envelope {
  o: string;
  t: number;
  p: unknown;
}

/** Encodes a message as JSON, refusing payloads JSON cannot carry and messages over `maxMessageBytes`. */
export function encodeEnvelope(channel: string, envelope: Envelope, maxMessageBytes: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(envelope);
  } catch (error) {
    throw new BusError('EBADPAYLOAD', `${SCOPE}: the payload on "${channel}" is not JSON-serializable`, { channel, cause: error });
  }
  if (envelope.p === undefined || text === undefined) {
    throw new BusError('EBADPAYLOAD', `${SCOPE}: the payload on "${channel}" is undefined`, { channel });
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > maxMessageBytes) {
    throw new BusError('EMSGSIZE', `${SCOPE}: the message on "${channel}" is ${bytes} bytes, more than maxMessageBytes (${maxMessageBytes})`, { channel });
  }
  return text;
}

/** Decodes a message; `undefined` (and a reported `EBUSDECODE`) for anything that is not an envelope. */
export function decodeEnvelope(local: LocalDispatch, channel: string, text: string): Envelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    local.report(new BusError('EBUSDECODE', `${SCOPE}: ignored a message that is not JSON on "${channel}"`, { channel, cause: error }));
    return undefined;
  }
  if (typeof value !== 'object' || value === null || typeof (value as Envelope).o !== 'string' || typeof (value as Envelope).t !== 'number' || !('p' in value)) {
    local.report(new BusError('EBUSDECODE', `${SCOPE}: ignored a message on "${channel}" that is not a bus envelope`, { channel }));
    return undefined;
  }
  return value as Envelope;
}

/** A random node identifier. */
export function randomNodeId(): string {
  return `node-${crypto.randomUUID().slice(0, 8)}`;
}

export type { Clock };

/**
 * Encodes a node's own message and hands a copy to this node's handlers at once (the copy remote
 * nodes decode): the first step of every networked bus's publish. Returns the encoded message.
 */
export function deliverOwn(local: LocalDispatch, channel: string, envelope: Envelope, maxMessageBytes: number): string {
  const message = encodeEnvelope(channel, envelope, maxMessageBytes);
  local.dispatch(channel, JSON.parse(message).p, { origin: envelope.o, sentAt: envelope.t, local: true });
  return message;
}
