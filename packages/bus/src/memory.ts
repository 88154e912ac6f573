import { type Clock, type Disposable, optionalString, systemClock } from '@edgekit/core';
import { LocalDispatch, checkChannel, randomNodeId } from './local.js';
import type { Bus, BusMeta } from './types.js';

const SCOPE = '@edgekit/bus';

/** Connects {@link createMemoryBus} instances in one process, standing in for Redis. */
export interface MemoryBusHub {
  /** @internal */
  readonly members: Set<(channel: string, payload: unknown, origin: string, sentAt: number) => void>;
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
  /** Time source for `sentAt`. Default: the system clock. */
  clock?: Clock;
}

/** An in-process {@link Bus}: the embedded default for a single node, and a stand-in for Redis in tests. */
export function createMemoryBus(options: MemoryBusOptions = {}): Bus {
  const hub = options.hub ?? createMemoryBusHub();
  const nodeId = optionalString(SCOPE, 'nodeId', options.nodeId, randomNodeId());
  const clock = options.clock ?? systemClock;
  const local = new LocalDispatch();
  let closed = false;
  const member = (channel: string, payload: unknown, origin: string, sentAt: number): void => {
    const meta: BusMeta = { origin, sentAt, local: origin === nodeId };
    // Every node receives a copy, as it would after a JSON round trip through Redis.
    local.dispatch(channel, structuredClone(payload), meta);
  };
  hub.members.add(member);

  const bus: Bus = {
    nodeId,
    get connected() {
      return !closed;
    },
    async publish(channel, payload) {
      checkChannel(SCOPE, channel);
      if (closed) throw new Error(`${SCOPE}: publish on a closed bus`);
      const sentAt = clock.now();
      for (const m of [...hub.members]) m(channel, payload, nodeId, sentAt);
    },
    subscribe<T>(channel: string, handler: (payload: T, meta: BusMeta) => void): Disposable {
      checkChannel(SCOPE, channel);
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
