import { type Clock, type ClockTimer, type Disposable, TypedEmitter, optionalNumber, optionalString, settleWithin, systemClock } from '@edgekit/core';
import { AckPolicy, type ConsumerMessages, DeliverPolicy, type JetStreamManager, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { DurableBus, DurableBusEvents } from './durable-bus.js';
import { BusError } from './errors.js';
import { BUS_DEFAULTS, LocalDispatch, SCOPE, checkChannel, checkOpen, decodeEnvelope, deliverOwn, randomNodeId } from './local.js';
import { channelToSubject, checkConnection, checkSubjectPrefix, payloadLimit, subjectToChannel, transportError, watchStatus } from './nats-link.js';
import type { BusEvents, BusMeta } from './types.js';

/** Options for {@link createJetStreamBus}. */
export interface JetStreamBusOptions {
  /** A connection from `@nats-io/transport-node`'s `connect()`; the bus does not close it. */
  connection: NatsConnection;
  /** Name of the JetStream stream, created when missing; it holds only this bus's subjects. Default: `EDGEKIT_BUS`. */
  stream?: string;
  /** Subject prefix: channel `c` is subject `<prefix>.<c>`, the stream holds `<prefix>.>`. Default: `edgekit.events`. */
  prefix?: string;
  /** This node's identifier. Default: a random `node-xxxxxxxx`. */
  nodeId?: string;
  /** Name of this node's durable consumer; keep it stable across restarts so the node resumes where it stopped. Default: `nodeId`. */
  durable?: string;
  /** How long `publish()` waits for the stream's acknowledgement, in ms. Default: 1000. */
  publishTimeout?: number;
  /** Largest encoded message accepted, in bytes (never more than the server's `max_payload`). Default: 65536. */
  maxMessageBytes?: number;
  /** How often the consumer checks its state with the stream (`lag`, `lastContact`), in ms. Default: 1000. */
  contactInterval?: number;
  /**
   * How long the server waits for an acknowledgement before it delivers a message again, in ms. A pull
   * in flight when a partition starts can take messages with it; they come back after this delay. Default: 3000.
   */
  ackWait?: number;
  /** How long the stream keeps messages, and an idle durable consumer lives, in ms. Default: 86400000 (a day). */
  maxAge?: number;
  /** Stream replicas when the bus creates the stream. Default: 1. */
  replicas?: number;
  /** Cluster to place the stream in when the bus creates it (a supercluster's cluster name). Default: the server's. */
  placement?: string;
  /** Time source. Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link JetStreamBusOptions}. */
export const JETSTREAM_BUS_DEFAULTS = {
  ...BUS_DEFAULTS,
  stream: 'EDGEKIT_BUS',
  prefix: 'edgekit.events',
  contactInterval: 1000,
  ackWait: 3000,
  maxAge: 86_400_000,
  replicas: 1,
  maxAckPending: 1000,
} as const;

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const nanos = (ms: number): number => Math.round(ms * 1_000_000);

function checkName(option: string, value: string): string {
  if (!NAME.test(value)) throw new TypeError(`${SCOPE}: option "${option}" must be 1-64 letters, digits, "_" or "-" (got ${JSON.stringify(value).slice(0, 80)})`);
  return value;
}

/**
 * A {@link DurableBus} over a NATS JetStream stream: `publish()` resolves once the stream has stored
 * the message; each node reads through its own durable consumer and acknowledges a message only
 * after its handlers ran, so a node cut off (or restarted) replays what it missed, in order, before
 * it reports `caughtUp`. Redelivered messages are recognised by stream sequence and not applied twice.
 */
export function createJetStreamBus(options: JetStreamBusOptions): DurableBus {
  if (!options || typeof options !== 'object') throw new TypeError(`${SCOPE}: createJetStreamBus needs an options object with "connection"`);
  const nc = checkConnection(options.connection);
  const stream = checkName('stream', optionalString(SCOPE, 'stream', options.stream, JETSTREAM_BUS_DEFAULTS.stream));
  const prefix = checkSubjectPrefix(options.prefix, JETSTREAM_BUS_DEFAULTS.prefix);
  const nodeId = optionalString(SCOPE, 'nodeId', options.nodeId, randomNodeId());
  const durable = checkName('durable', optionalString(SCOPE, 'durable', options.durable, nodeId));
  const publishTimeout = optionalNumber(SCOPE, 'publishTimeout', options.publishTimeout, JETSTREAM_BUS_DEFAULTS.publishTimeout, { min: 1 });
  const maxMessageBytes = optionalNumber(SCOPE, 'maxMessageBytes', options.maxMessageBytes, JETSTREAM_BUS_DEFAULTS.maxMessageBytes, { min: 64, integer: true });
  const contactInterval = optionalNumber(SCOPE, 'contactInterval', options.contactInterval, JETSTREAM_BUS_DEFAULTS.contactInterval, { min: 10 });
  const ackWait = optionalNumber(SCOPE, 'ackWait', options.ackWait, JETSTREAM_BUS_DEFAULTS.ackWait, { min: 100 });
  const maxAge = optionalNumber(SCOPE, 'maxAge', options.maxAge, JETSTREAM_BUS_DEFAULTS.maxAge, { min: 1000 });
  const replicas = optionalNumber(SCOPE, 'replicas', options.replicas, JETSTREAM_BUS_DEFAULTS.replicas, { min: 1, max: 5, integer: true });
  const placement = options.placement === undefined ? undefined : optionalString(SCOPE, 'placement', options.placement, '');
  const clock = options.clock ?? systemClock;

  const local = new LocalDispatch();
  const durableEvents = new TypedEmitter<Omit<DurableBusEvents, keyof BusEvents>>();
  const js = jetstream(nc, { timeout: publishTimeout });
  const decoder = new TextDecoder();
  const caughtUpWaiters = new Set<() => void>();
  let jsm: JetStreamManager | undefined;
  let messages: ConsumerMessages | undefined;
  let ready: Promise<void> | undefined;
  let timer: ClockTimer | undefined;
  let closed = false;
  let linkUp = !nc.isClosed();
  let caughtUp = false;
  let behindSince = clock.now();
  let replayed = 0;
  let lag = 0;
  let lastContact: number | undefined;
  // Stream sequence of the next message this node has not applied.
  let expected: number | undefined;
  // Highest stream sequence the server reports delivered to this consumer, and whether that report
  // is fresh: messages delivered into a pull lost with a partition come back only after `ackWait`,
  // and until they are applied the node is not caught up, whatever `pending` says.
  let deliveredHigh = 0;
  let confirmed = false;
  // Messages handed back because an earlier one is missing.
  let held = 0;
  let published = 0;

  const markCaughtUp = (): void => {
    if (caughtUp || closed) return;
    caughtUp = true;
    lag = 0;
    durableEvents.emit('caughtUp', { at: clock.now(), replayed, behindSince });
    for (const resolve of [...caughtUpWaiters]) resolve();
  };
  const markBehind = (): void => {
    confirmed = false;
    if (!caughtUp || closed) return;
    caughtUp = false;
    behindSince = clock.now();
    replayed = 0;
    durableEvents.emit('behind', { at: behindSince });
  };

  const apply = (m: JsMsg): void => {
    lastContact = clock.now();
    const seq = m.seq;
    if (expected !== undefined && seq < expected) {
      // A redelivery of a message already applied here (its acknowledgement was lost).
      m.ack();
      return;
    }
    if (expected !== undefined && seq > expected) {
      // An earlier message is missing: delivered into a pull lost with a partition (it comes back
      // after ackWait), or removed from the stream (the contact check finds that out). Hand this one
      // back for later so the order holds.
      held = Math.max(held, seq - expected);
      m.nak(retryDelay);
      return;
    }
    held = 0;
    expected = seq + 1;
    const channel = subjectToChannel(prefix, m.subject);
    if (channel !== undefined && local.has(channel)) {
      const limit = payloadLimit(nc, maxMessageBytes);
      if (m.data.byteLength > limit) {
        local.report(new BusError('EMSGSIZE', `${SCOPE}: ignored a message on "${channel}" larger than maxMessageBytes (${limit})`, { channel }));
      } else {
        const envelope = decodeEnvelope(local, channel, decoder.decode(m.data));
        // Our own messages were delivered locally at publish time.
        if (envelope && envelope.o !== nodeId) local.dispatch(channel, envelope.p, { origin: envelope.o, sentAt: envelope.t, local: false });
      }
    }
    m.ack();
    if (!caughtUp) replayed++;
    lag = m.info.pending + Math.max(0, deliveredHigh - seq);
    if (lag === 0 && confirmed && held === 0) markCaughtUp();
  };

  const retryDelay = Math.max(100, Math.min(ackWait, contactInterval));
  const pause = (): Promise<void> => new Promise<void>((resolve) => clock.setTimeout(resolve, contactInterval));

  const consume = async (): Promise<void> => {
    // One short pull at a time rather than consume(): a pull lost with a partition is replaced
    // within `expires` (a watchdog ends one that never completes), so the replay starts as soon as
    // the link is back. Failures while cut off are expected; `behind` reports them.
    const expires = Math.max(1000, Math.min(5000, contactInterval * 5));
    let consumer: Awaited<ReturnType<typeof js.consumers.get>> | undefined;
    while (!closed) {
      if (!linkUp) {
        await pause();
        continue;
      }
      try {
        consumer ??= await js.consumers.get(stream, durable);
        const batch = await consumer.fetch({ max_messages: 256, expires });
        messages = batch;
        const watchdog = clock.setTimeout(() => batch.stop(), expires + 2 * contactInterval + 1000);
        try {
          for await (const m of batch) {
            if (closed) break;
            apply(m);
          }
        } finally {
          clock.clearTimeout(watchdog);
        }
      } catch {
        if (!closed) await pause();
      }
    }
  };


  const startConsuming = (): void => {
    void consume().catch((error: unknown) => {
      if (!closed) local.report(transportError(error, `consuming stream "${stream}"`));
    });
  };

  const setUp = async (): Promise<void> => {
    jsm ??= await jetstreamManager(nc, { timeout: publishTimeout });
    try {
      await jsm.streams.info(stream);
    } catch {
      await jsm.streams.add({
        name: stream,
        subjects: [`${prefix}.>`],
        max_age: nanos(maxAge),
        duplicate_window: nanos(Math.min(120_000, maxAge)),
        num_replicas: replicas,
        ...(placement ? { placement: { cluster: placement, tags: [] } } : {}),
      });
    }
    let info;
    try {
      info = await jsm.consumers.info(stream, durable);
    } catch {
      info = await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        filter_subject: `${prefix}.>`,
        max_ack_pending: JETSTREAM_BUS_DEFAULTS.maxAckPending,
        ack_wait: nanos(ackWait),
        inactive_threshold: nanos(maxAge),
      });
    }
    lastContact = clock.now();
    // A consumer that has acknowledged nothing yet reports ack floor 0; where it delivered nothing either,
    // its start point is its delivered stream sequence, otherwise the first delivery sets it.
    if (info.ack_floor.consumer_seq > 0) expected = info.ack_floor.stream_seq + 1;
    else if (info.delivered.consumer_seq === 0) expected = info.delivered.stream_seq + 1;
    lag = info.num_pending;
    deliveredHigh = info.delivered.stream_seq;
    confirmed = true;
    startConsuming();
    if (info.num_pending === 0 && info.num_ack_pending === 0) markCaughtUp();
  };

  const checkContact = async (): Promise<void> => {
    if (!ready) {
      ready = setUp().catch((error: unknown) => {
        ready = undefined;
        throw error;
      });
    }
    await ready;
    const info = await jsm!.consumers.info(stream, durable);
    lastContact = clock.now();
    deliveredHigh = Math.max(deliveredHigh, info.delivered.stream_seq);
    confirmed = true;
    if (held > 0 && expected !== undefined) {
      const { state } = await jsm!.streams.info(stream);
      if (state.first_seq > expected) {
        // The stream no longer holds messages this node never applied (a purge, or retention): a real gap.
        expected = state.first_seq;
        held = 0;
        local.events.emit('gap', { kind: 'reconnected', at: clock.now() });
      }
    }
    const unapplied = expected === undefined ? info.num_ack_pending : Math.max(0, deliveredHigh - expected + 1);
    lag = info.num_pending + unapplied;
    if (lag === 0) markCaughtUp();
  };

  const tick = (): void => {
    if (closed) return;
    void settleWithin(checkContact(), contactInterval, clock, () => new BusError('ETIMEDOUT', `${SCOPE}: stream "${stream}" did not answer within ${contactInterval} ms`))
      .catch((error: unknown) => {
        markBehind();
        if (!(error instanceof BusError && error.code === 'ETIMEDOUT')) local.report(transportError(error, `checking stream "${stream}"`));
      })
      .finally(() => {
        if (!closed) timer = clock.setTimeout(tick, contactInterval);
      });
  };

  const stopWatching = watchStatus(nc, (status) => {
    if (closed) return;
    if (status.type === 'disconnect' || status.type === 'close') {
      linkUp = false;
      markBehind();
      // A pull in flight does not survive the reconnect: end it so the loop pulls afresh.
      messages?.stop();
    } else if (status.type === 'reconnect') {
      linkUp = true;
      messages?.stop();
    }
  });
  tick();

  const bus: DurableBus = {
    nodeId,
    get connected() {
      return linkUp && !closed;
    },
    get caughtUp() {
      return caughtUp && !closed;
    },
    get lag() {
      return lag;
    },
    get lastContact() {
      return lastContact;
    },
    whenCaughtUp(signal) {
      if (caughtUp) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const done = (): void => {
          caughtUpWaiters.delete(done);
          signal?.removeEventListener('abort', abort);
          resolve();
        };
        const abort = (): void => {
          caughtUpWaiters.delete(done);
          reject(signal!.reason);
        };
        if (signal?.aborted) return abort();
        signal?.addEventListener('abort', abort, { once: true });
        caughtUpWaiters.add(done);
      });
    },
    async publish(channel, payload) {
      checkChannel(channel);
      checkOpen(closed, 'publish', channel);
      const sentAt = clock.now();
      const message = deliverOwn(local, channel, { o: nodeId, t: sentAt, p: payload }, payloadLimit(nc, maxMessageBytes));
      const msgID = `${nodeId}-${sentAt}-${++published}`;
      try {
        const stored = (async () => {
          await (ready ?? Promise.reject(new BusError('EBUSTRANSPORT', `${SCOPE}: the stream is not set up yet`, { channel })));
          return js.publish(channelToSubject(prefix, channel), message, { msgID, timeout: publishTimeout });
        })();
        await settleWithin(stored, publishTimeout, clock, () => new BusError('ETIMEDOUT', `${SCOPE}: publish on "${channel}" timed out after ${publishTimeout} ms`, { channel }));
      } catch (error) {
        throw transportError(error, `publish on "${channel}"`, channel);
      }
    },
    subscribe<T>(channel: string, handler: (payload: T, meta: BusMeta) => void): Disposable {
      checkChannel(channel);
      checkOpen(closed, 'subscribe', channel);
      return local.add(channel, handler as (payload: unknown, meta: BusMeta) => void);
    },
    on(event, listener) {
      if (event === 'caughtUp' || event === 'behind') return durableEvents.on(event, listener as never);
      return local.events.on(event as keyof BusEvents, listener as never);
    },
    async close() {
      if (closed) return;
      closed = true;
      linkUp = false;
      caughtUp = false;
      clock.clearTimeout(timer);
      stopWatching();
      messages?.stop();
      caughtUpWaiters.clear();
      durableEvents.removeAllListeners();
      local.clear();
    },
    [Symbol.asyncDispose]() {
      return bus.close();
    },
  };
  return bus;
}
