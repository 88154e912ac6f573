import type { NatsConnection, Status } from '@nats-io/nats-core';
import { BusError } from './errors.js';
import { SCOPE } from './local.js';

/**
 * Maps a bus channel to one NATS subject token: percent-encoding keeps `.`, `*`, `>` and
 * whitespace out of it, so every channel is exactly one literal subject.
 */
export function channelToSubject(prefix: string, channel: string): string {
  return `${prefix}.${encodeURIComponent(channel).replaceAll('.', '%2E').replaceAll('*', '%2A')}`;
}

/** The channel of a subject made by {@link channelToSubject}; `undefined` for any other subject. */
export function subjectToChannel(prefix: string, subject: string): string | undefined {
  if (!subject.startsWith(`${prefix}.`)) return undefined;
  try {
    return decodeURIComponent(subject.slice(prefix.length + 1));
  } catch {
    return undefined;
  }
}

/** Checks a subject prefix option: dot-separated tokens without wildcards or whitespace. */
export function checkSubjectPrefix(value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(value)) {
    throw new TypeError(`${SCOPE}: option "prefix" must be dot-separated NATS subject tokens of letters, digits, "_" and "-" (got ${JSON.stringify(String(value)).slice(0, 80)})`);
  }
  return value;
}

/** Checks the `connection` option: a NATS connection from `@nats-io/transport-node`'s `connect()`. */
export function checkConnection(value: unknown): NatsConnection {
  const nc = value as NatsConnection | undefined;
  if (!nc || typeof nc !== 'object' || typeof nc.publish !== 'function' || typeof nc.subscribe !== 'function' || typeof nc.status !== 'function') {
    throw new TypeError(`${SCOPE}: option "connection" must be a NatsConnection from @nats-io/transport-node's connect()`);
  }
  return nc;
}

/** Calls `onStatus` for each connection status change until the returned function is called. */
export function watchStatus(nc: NatsConnection, onStatus: (status: Status) => void): () => void {
  const iterator = nc.status() as AsyncIterable<Status> & { stop?: () => void };
  let stopped = false;
  void (async () => {
    for await (const status of iterator) {
      if (stopped) break;
      onStatus(status);
    }
  })().catch(() => {});
  return () => {
    stopped = true;
    iterator.stop?.();
  };
}

/** The smaller of `maxMessageBytes` and the server's `max_payload`. */
export function payloadLimit(nc: NatsConnection, maxMessageBytes: number): number {
  const serverLimit = nc.info?.max_payload;
  return typeof serverLimit === 'number' && serverLimit > 0 ? Math.min(serverLimit, maxMessageBytes) : maxMessageBytes;
}

/** Wraps a transport failure as `EBUSTRANSPORT`, keeping bus errors as they are. */
export function transportError(error: unknown, what: string, channel?: string): BusError {
  if (error instanceof BusError) return error;
  return new BusError('EBUSTRANSPORT', `${SCOPE}: ${what} failed: ${error instanceof Error ? error.message : String(error)}`, { channel, cause: error });
}
