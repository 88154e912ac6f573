import { type Clock, type Disposable, optionalNumber, optionalString, systemClock } from '@edgekit/core';
import { BUS_DEFAULTS, LocalDispatch, SCOPE, checkChannel, checkOpen, encodeEnvelope, randomNodeId } from './local.js';
import type { Bus, BusMeta } from './types.js';

/** Connects {@link createMemoryBus} instances in one process, standing in for Redis. */
export interface MemoryBusHub {
  /** @internal */
  readonly members: Set<(channel: string, message: string) => void>;
}

/** Creates a hub that joins memory buses, so several gateway nodes in one process share messages. */
export function createMemoryBusHub(): MemoryBusHub {
  return { members: new Set() };
}

/** Options for {@link createMemoryBus}. */
export interface MemoryBusOptions {
  /** Buses created with the same hub see each other's messages. Default: a private hub (this bus only). */
  hub?: MemoryBusHub;
  /** This node's identifier. Default: a random `node-xxxxxxxx`. */
  nodeId?: string;
  /** Largest encoded message accepted, in bytes, as on the networked buses. Default: 65536. */
  maxMessageBytes?: number;
  /** Time source for `sentAt`. Default: the system clock. */
  clock?: Clock;
}

/** An in-process {@link Bus}: the embedded default for a single node, and a stand-in for Redis in tests. */
export function createMemoryBus(options: MemoryBusOptions = {}): Bus {
  const hub = options.hub ?? createMemoryBusHub();
  const nodeId = optionalString(SCOPE, 'nodeId', options.nodeId, randomNodeId());
  const maxMessageBytes = optionalNumber(SCOPE, 'maxMessageBytes', options.maxMessageBytes, BUS_DEFAULTS.maxMessageBytes, { min: 64, integer: true });
  const clock = options.clock ?? systemClock;
  const local = new LocalDispatch();
  let closed = false;
  const member = (channel: string, message: string): void => {
    if (!local.has(channel)) return;
    // Every node decodes its own copy, as it would after a round trip through a server.
    const envelope = JSON.parse(message) as { o: string; t: number; p: unknown };
    const meta: BusMeta = { origin: envelope.o, sentAt: envelope.t, local: envelope.o === nodeId };
    local.dispatch(channel, envelope.p, meta);
  };
  hub.members.add(member);

  const bus: Bus = {
    nodeId,
    get connected() {
      return !closed;
    },
    async publish(channel, payload) {
      checkChannel(channel);
      checkOpen(closed, 'publish', channel);
      const message = encodeEnvelope(channel, { o: nodeId, t: clock.now(), p: payload }, maxMessageBytes);
      for (const m of [...hub.members]) m(channel, message);
    },
    subscribe<T>(channel: string, handler: (payload: T, meta: BusMeta) => void): Disposable {
      checkChannel(channel);
      checkOpen(closed, 'subscribe', channel);
      return local.add(channel, handler as (payload: unknown, meta: BusMeta) => void);
    },
    on(event, listener) {
      return local.events.on(event, listener);
    },
    async close() {
      closed = true;
      hub.members.delete(member);
      local.clear();
    },
    [Symbol.asyncDispose]() {
      return bus.close();
    },
  };
  return bus;
}
