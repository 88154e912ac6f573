import { type Clock, type Disposable, optionalNumber, optionalString, settleWithin, systemClock } from '@edgekit/core';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { BusError } from './errors.js';
import { BUS_DEFAULTS, LocalDispatch, SCOPE, checkChannel, checkOpen, decodeEnvelope, deliverOwn, randomNodeId } from './local.js';
import { channelToSubject, checkConnection, checkSubjectPrefix, payloadLimit, transportError, watchStatus } from './nats-link.js';
import type { Bus, BusMeta } from './types.js';

/** Options for {@link createNatsBus}. */
export interface NatsBusOptions {
  /** A connection from `@nats-io/transport-node`'s `connect()`; the bus does not close it. */
  connection: NatsConnection;
  /** Subject prefix: channel `c` is subject `<prefix>.<c>`. Default: `edgekit.bus`. */
  prefix?: string;
  /** This node's identifier. Default: a random `node-xxxxxxxx`. */
  nodeId?: string;
  /** How long `publish()` waits for the server to confirm (a flush round trip), in ms. Default: 1000. */
  publishTimeout?: number;
  /** Largest encoded message accepted, in bytes (never more than the server's `max_payload`). Default: 65536. */
  maxMessageBytes?: number;
  /** Time source for `sentAt` and the publish timeout. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link NatsBusOptions}. */
export const NATS_BUS_DEFAULTS = {
  ...BUS_DEFAULTS,
  prefix: 'edgekit.bus',
} as const;

/**
 * A {@link Bus} over core NATS publish/subscribe: at most once, in publish order per channel. The
 * bus follows the connection's status: `gap` with `disconnected` when the client loses its server,
 * `reconnected` once the client has reconnected and the server has confirmed its re-sent subscriptions.
 */
export function createNatsBus(options: NatsBusOptions): Bus {
  if (!options || typeof options !== 'object') throw new TypeError(`${SCOPE}: createNatsBus needs an options object with "connection"`);
  const nc = checkConnection(options.connection);
  const prefix = checkSubjectPrefix(options.prefix, NATS_BUS_DEFAULTS.prefix);
  const nodeId = optionalString(SCOPE, 'nodeId', options.nodeId, randomNodeId());
  const publishTimeout = optionalNumber(SCOPE, 'publishTimeout', options.publishTimeout, NATS_BUS_DEFAULTS.publishTimeout, { min: 1 });
  const maxMessageBytes = optionalNumber(SCOPE, 'maxMessageBytes', options.maxMessageBytes, NATS_BUS_DEFAULTS.maxMessageBytes, { min: 64, integer: true });
  const clock = options.clock ?? systemClock;
  const local = new LocalDispatch();
  const subscriptions = new Map<string, Subscription>();
  const decoder = new TextDecoder();
  let connected = !nc.isClosed();
  let closed = false;
  let reconnects = 0;

  const stopWatching = watchStatus(nc, (status) => {
    if (closed) return;
    if (status.type === 'disconnect') {
      reconnects++;
      if (!connected) return;
      connected = false;
      local.events.emit('gap', { kind: 'disconnected', at: clock.now() });
    } else if (status.type === 'reconnect' && !connected) {
      // The client re-sends its subscriptions on reconnect without waiting for the server; a flush
      // round trip after them confirms the server has them, so delivery is restored when we say so.
      const reconnect = ++reconnects;
      nc.flush().then(
        () => {
          if (closed || connected || reconnect !== reconnects) return;
          connected = true;
          local.events.emit('gap', { kind: 'reconnected', at: clock.now() });
        },
        // The connection dropped again before confirming: its next reconnect reports instead.
        () => {},
      );
    } else if (status.type === 'close' && connected) {
      connected = false;
      local.events.emit('gap', { kind: 'disconnected', at: clock.now() });
    }
  });

  const receive = (channel: string, data: Uint8Array): void => {
    const limit = payloadLimit(nc, maxMessageBytes);
    if (data.byteLength > limit) {
      local.report(new BusError('EMSGSIZE', `${SCOPE}: ignored a message on "${channel}" larger than maxMessageBytes (${limit})`, { channel }));
      return;
    }
    const envelope = decodeEnvelope(local, channel, decoder.decode(data));
    // Our own messages were already delivered locally at publish time.
    if (!envelope || envelope.o === nodeId) return;
    local.dispatch(channel, envelope.p, { origin: envelope.o, sentAt: envelope.t, local: false });
  };

  const bus: Bus = {
    nodeId,
    get connected() {
      return connected && !closed;
    },
    async publish(channel, payload) {
      checkChannel(channel);
      checkOpen(closed, 'publish', channel);
      const sentAt = clock.now();
      const message = deliverOwn(local, channel, { o: nodeId, t: sentAt, p: payload }, payloadLimit(nc, maxMessageBytes));
      try {
        nc.publish(channelToSubject(prefix, channel), message);
        // A flush round trip confirms the server has the message.
        await settleWithin(nc.flush(), publishTimeout, clock, () => new BusError('ETIMEDOUT', `${SCOPE}: publish on "${channel}" timed out after ${publishTimeout} ms`, { channel }));
      } catch (error) {
        throw transportError(error, `publish on "${channel}"`, channel);
      }
    },
    subscribe<T>(channel: string, handler: (payload: T, meta: BusMeta) => void): Disposable {
      checkChannel(channel);
      checkOpen(closed, 'subscribe', channel);
      return local.add(
        channel,
        handler as (payload: unknown, meta: BusMeta) => void,
        (c) => {
          try {
            subscriptions.set(c, nc.subscribe(channelToSubject(prefix, c), { callback: (error, msg) => (error ? local.report(transportError(error, `subscription to "${c}"`, c)) : receive(c, msg.data)) }));
          } catch (error) {
            local.report(transportError(error, `subscribe to "${c}"`, c));
          }
        },
        (c) => {
          subscriptions.get(c)?.unsubscribe();
          subscriptions.delete(c);
        },
      );
    },
    on(event, listener) {
      return local.events.on(event, listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      connected = false;
      stopWatching();
      for (const sub of subscriptions.values()) {
        try {
          sub.unsubscribe();
        } catch {
          // The connection is already closed; nothing to release.
        }
      }
      subscriptions.clear();
      local.clear();
    },
    [Symbol.asyncDispose]() {
      return bus.close();
    },
  };
  return bus;
}
