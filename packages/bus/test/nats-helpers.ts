import { useCleanups, waitFor } from '@edgekit/test-utils';
import { type TcpRelay, startTcpRelay } from '@edgekit/test-utils/node';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { type DurableBus, type JetStreamBusOptions, createJetStreamBus } from '../src/nats.js';

/** Registers a cleanup run after the current test, last registered first. */
export const onCleanup = useCleanups();

/** A NATS connection (to a port on loopback, or to a cluster's URLs) that keeps reconnecting, closed after the test. */
export async function natsClient(servers: number | string[]): Promise<NatsConnection> {
  const nc = await connect({
    servers: typeof servers === 'number' ? `nats://127.0.0.1:${servers}` : servers,
    reconnectTimeWait: 100,
    maxReconnectAttempts: -1,
    ignoreClusterUpdates: true,
  });
  onCleanup(() => nc.close());
  return nc;
}

/** A TCP relay to `port` the test can cut and heal, closed after the test. */
export async function relay(port: number): Promise<TcpRelay> {
  const r = await startTcpRelay({ port });
  onCleanup(() => r.close());
  return r;
}

/** A JetStream bus node of a supercluster whose stream lives in us-east, closed after the test. */
export function regionNode(connection: NatsConnection, nodeId: string, extra: Partial<JetStreamBusOptions> = {}): DurableBus {
  const bus = createJetStreamBus({ connection, nodeId, placement: 'us-east', contactInterval: 100, publishTimeout: 5_000, ...extra });
  onCleanup(() => bus.close());
  return bus;
}

/** {@link waitFor} with room for JetStream replays and gateway reconnections on a loaded machine. */
export function waitOnNats(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  return waitFor(check, timeoutMs);
}
