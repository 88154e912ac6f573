import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Bus } from '@edgekit/bus';
import { type DurableBus, createJetStreamBus } from '@edgekit/bus/nats';
import { type Clock, sendProblem } from '@edgekit/core';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { GatewayConfig } from './config.js';

type NatsSettings = NonNullable<GatewayConfig['bus']['nats']>;

/** The bus between gateways when it is NATS JetStream: durable, with a staleness bound for revocations. */
export interface EventStream {
  readonly bus: DurableBus;
  readonly connection: NatsConnection;
  /** Milliseconds since this node last knew it had applied every event. */
  staleFor(): number;
  /** True while `staleFor()` is within `maxStaleness`: cached revocation state may be trusted. */
  fresh(): boolean;
  snapshot(): EventStreamStatus;
  close(): Promise<void>;
}

/** The event stream on the status page and in `/status.json`. */
export interface EventStreamStatus {
  driver: 'nats';
  connected: boolean;
  caughtUp: boolean;
  lag: number;
  staleForMs: number;
  maxStalenessMs: number;
  failClosed: boolean;
}

/** Connects to NATS with endless reconnects (a gateway outlives NATS outages) and a bounded first attempt. */
export async function connectNats(servers: readonly string[], name: string): Promise<NatsConnection> {
  return connect({ servers: [...servers], name, maxReconnectAttempts: -1, reconnectTimeWait: 250, timeout: 5_000 });
}

/** A consumer name from a node id: JetStream durable names allow letters, digits, `_` and `-`. */
export function durableName(nodeId: string): string {
  return `gw-${nodeId.replace(/[^A-Za-z0-9_-]/g, '_')}`.slice(0, 64);
}

/** Opens the JetStream bus of this node: its own durable consumer, named after `nodeId`. */
export async function openEventStream(settings: NatsSettings, nodeId: string, clock: Clock): Promise<EventStream> {
  const connection = await connectNats(settings.servers, `edgekit-gateway ${nodeId}`);
  const bus = createJetStreamBus({
    connection,
    nodeId,
    durable: durableName(nodeId),
    stream: settings.stream,
    prefix: settings.prefix,
    contactInterval: settings.contactInterval,
    ...(settings.placement === undefined ? {} : { placement: settings.placement }),
    clock,
  });
  // The last moment this node was known to have applied every event: now while caught up, else when it fell behind.
  let behindAt: number | undefined = clock.now();
  bus.on('behind', ({ at }) => (behindAt = at));
  bus.on('caughtUp', () => (behindAt = undefined));
  const staleFor = (): number => {
    const since = behindAt ?? bus.lastContact ?? clock.now();
    return Math.max(0, clock.now() - since);
  };
  const fresh = (): boolean => staleFor() <= settings.maxStaleness;
  return {
    bus,
    connection,
    staleFor,
    fresh,
    snapshot: () => ({
      driver: 'nats',
      connected: bus.connected,
      caughtUp: bus.caughtUp,
      lag: bus.lag,
      staleForMs: staleFor(),
      maxStalenessMs: settings.maxStaleness,
      failClosed: !fresh(),
    }),
    async close() {
      await bus.close();
      await connection.close();
    },
  };
}

/**
 * Route middleware for `revocations: fresh`: while this node cannot prove its revocation state is
 * within `maxStaleness` of the stream, the route answers 503 (problem+json) instead of trusting it.
 */
export function requireFreshRevocations(stream: EventStream | undefined) {
  return (_req: IncomingMessage, res: ServerResponse, next: () => void): void => {
    if (stream === undefined || stream.fresh()) {
      next();
      return;
    }
    const { staleForMs, maxStalenessMs } = stream.snapshot();
    sendProblem(
      res,
      {
        title: 'Service Unavailable',
        status: 503,
        detail: `revocation state cannot be trusted: the event stream has not been confirmed for ${staleForMs} ms (bound ${maxStalenessMs} ms)`,
      },
      { 'retry-after': String(Math.max(1, Math.ceil(maxStalenessMs / 1000))) },
    );
  };
}

export type { Bus };
