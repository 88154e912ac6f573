import { type Clock, type ClockTimer, type Disposable, checkOptionsObject, checkRedisClient, isRedisCluster, optionalNumber, optionalString, settleWithin, systemClock, type RedisClientLike } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { BusError } from './errors.js';
import { BUS_DEFAULTS, LocalDispatch, SCOPE, checkChannel, checkOpen, decodeEnvelope, deliverOwn, randomNodeId } from './local.js';
import type { Bus, BusMeta } from './types.js';

/** Options for {@link createRedisBus}. */
export interface RedisBusOptions {
  /** An ioredis client (standalone `Redis` or `Cluster`) used to publish. The bus opens its own subscriber connection. */
  redis: RedisClientLike;
  /** Prefix of the Redis channel names. Default: `edgekit:bus:`. */
  prefix?: string;
  /** This node's identifier. Default: a random `node-xxxxxxxx`. */
  nodeId?: string;
  /** How long `publish()` waits for Redis before rejecting, in ms. Default: 1000. */
  publishTimeout?: number;
  /** Largest encoded message accepted, in bytes; larger ones are refused on publish and ignored on receipt. Default: 65536. */
  maxMessageBytes?: number;
  /** Delay before a Cluster subscriber tries the next node after losing its connection, in ms. Default: 200. */
  reconnectDelay?: number;
  /** Time source for `sentAt` and reconnect timers. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link RedisBusOptions}. */
export const REDIS_BUS_DEFAULTS = {
  ...BUS_DEFAULTS,
  prefix: 'edgekit:bus:',
  reconnectDelay: 200,
} as const;

/**
 * A {@link Bus} over Redis pub/sub (standalone or Cluster). The subscriber connection is managed here,
 * not by ioredis' automatic resubscription, so the bus knows exactly when it may have missed messages:
 * it emits `gap` with `disconnected` when the subscriber drops, and `reconnected` only after every
 * channel is subscribed again.
 */
export function createRedisBus(options: RedisBusOptions): Bus {
  checkOptionsObject(SCOPE, options);
  const publisher = checkRedisClient<Redis | Cluster>(SCOPE, options.redis);
  const prefix = optionalString(SCOPE, 'prefix', options.prefix, REDIS_BUS_DEFAULTS.prefix);
  const nodeId = optionalString(SCOPE, 'nodeId', options.nodeId, randomNodeId());
  const publishTimeout = optionalNumber(SCOPE, 'publishTimeout', options.publishTimeout, REDIS_BUS_DEFAULTS.publishTimeout, { min: 1 });
  const maxMessageBytes = optionalNumber(SCOPE, 'maxMessageBytes', options.maxMessageBytes, REDIS_BUS_DEFAULTS.maxMessageBytes, { min: 64, integer: true });
  const reconnectDelay = optionalNumber(SCOPE, 'reconnectDelay', options.reconnectDelay, REDIS_BUS_DEFAULTS.reconnectDelay, { min: 0 });
  const clock = options.clock ?? systemClock;
  const local = new LocalDispatch();
  const reportError = (error: unknown): void => {
    local.report(new BusError('EBUSTRANSPORT', `${SCOPE}: Redis failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error }));
  };

  let subscriber: Redis | undefined;
  let connected = false;
  let everConnected = false;
  let closed = false;
  let reconnectTimer: ClockTimer | undefined;
  let clusterNodeIndex = 0;

  const onMessage = (redisChannel: string, message: string): void => {
    if (!redisChannel.startsWith(prefix)) return;
    const channel = redisChannel.slice(prefix.length);
    if (Buffer.byteLength(message) > maxMessageBytes) {
      local.report(new BusError('EMSGSIZE', `${SCOPE}: ignored a message on "${channel}" larger than maxMessageBytes (${maxMessageBytes})`, { channel }));
      return;
    }
    const envelope = decodeEnvelope(local, channel, message);
    // Our own messages were already delivered locally at publish time.
    if (!envelope || envelope.o === nodeId) return;
    const meta: BusMeta = { origin: envelope.o, sentAt: envelope.t, local: false };
    local.dispatch(channel, envelope.p, meta);
  };

  const markDisconnected = (): void => {
    if (!connected) return;
    connected = false;
    local.events.emit('gap', { kind: 'disconnected', at: clock.now() });
  };

  const resubscribe = async (client: Redis): Promise<void> => {
    const channels = local.channels().map((c) => prefix + c);
    try {
      if (channels.length > 0) await client.subscribe(...channels);
    } catch (error) {
      reportError(error);
      return;
    }
    if (client !== subscriber || closed || client.status !== 'ready') return;
    connected = true;
    if (everConnected) local.events.emit('gap', { kind: 'reconnected', at: clock.now() });
    everConnected = true;
  };

  const clusterNode = (cluster: Cluster): Redis | undefined => {
    const nodes = cluster.nodes('all');
    if (nodes.length === 0) return undefined;
    return nodes[clusterNodeIndex++ % nodes.length];
  };

  const connectSubscriber = (): void => {
    if (closed) return;
    let client: Redis;
    if (isRedisCluster(publisher)) {
      const cluster = publisher as Cluster;
      // Redis Cluster broadcasts PUBLISH to every node, so one node's subscription hears everything.
      const node = clusterNode(cluster);
      if (!node) {
        // The cluster has not discovered its nodes yet; try again shortly.
        reconnectTimer = clock.setTimeout(connectSubscriber, reconnectDelay);
        return;
      }
      client = node.duplicate({ autoResubscribe: false, lazyConnect: false, enableOfflineQueue: true, retryStrategy: () => null });
      client.once('end', () => {
        markDisconnected();
        if (!closed) reconnectTimer = clock.setTimeout(connectSubscriber, reconnectDelay);
      });
    } else {
      client = (publisher as Redis).duplicate({ autoResubscribe: false, lazyConnect: false, enableOfflineQueue: true });
    }
    subscriber = client;
    client.on('message', onMessage);
    client.on('ready', () => void resubscribe(client));
    client.on('close', markDisconnected);
    client.on('error', () => {
      // Connection errors surface as close/end; the bus reports them as gaps.
    });
  };

  connectSubscriber();

  const bus: Bus = {
    nodeId,
    get connected() {
      return connected && !closed;
    },
    async publish(channel, payload) {
      checkChannel(channel);
      checkOpen(closed, 'publish', channel);
      const sentAt = clock.now();
      const message = deliverOwn(local, channel, { o: nodeId, t: sentAt, p: payload }, maxMessageBytes);
      try {
        await settleWithin(
          publisher.publish(prefix + channel, message),
          publishTimeout,
          clock,
          () => new BusError('ETIMEDOUT', `${SCOPE}: publish on "${channel}" timed out after ${publishTimeout} ms`, { channel }),
        );
      } catch (error) {
        if (error instanceof BusError) throw error;
        throw new BusError('EBUSTRANSPORT', `${SCOPE}: publish on "${channel}" failed: ${error instanceof Error ? error.message : String(error)}`, { channel, cause: error });
      }
    },
    subscribe<T>(channel: string, handler: (payload: T, meta: BusMeta) => void): Disposable {
      checkChannel(channel);
      checkOpen(closed, 'subscribe', channel);
      return local.add(
        channel,
        handler as (payload: unknown, meta: BusMeta) => void,
        (c) => {
          if (subscriber?.status === 'ready') subscriber.subscribe(prefix + c).catch(reportError);
        },
        (c) => {
          if (subscriber?.status === 'ready') subscriber.unsubscribe(prefix + c).catch(reportError);
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
      clock.clearTimeout(reconnectTimer);
      const client = subscriber;
      subscriber = undefined;
      local.clear();
      if (client) {
        client.removeAllListeners();
        client.on('error', () => {});
        client.disconnect();
      }
    },
    [Symbol.asyncDispose]() {
      return bus.close();
    },
  };
  return bus;
}
