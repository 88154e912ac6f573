import { type TcpRelay, startTcpRelay } from '@edgekit/test-utils/node';
import { describeNats, useNatsServer } from '@edgekit/test-utils';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterEach, expect, it } from 'vitest';
import { createJetStreamBus, createNatsBus } from '../src/nats.js';
import { describeBusConformance } from '../src/testing.js';

const cleanups: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A client that reconnects quickly and forever, as a gateway's would. */
async function client(port: number): Promise<NatsConnection> {
  const nc = await connect({ servers: `nats://127.0.0.1:${port}`, reconnectTimeWait: 100, maxReconnectAttempts: -1, ignoreClusterUpdates: true });
  cleanups.push(() => nc.close());
  return nc;
}

/** Connects through a relay that the test can cut, so one node is partitioned while the others are not. */
const relays = new Map<string, TcpRelay>();
async function relayedClient(port: number, nodeId: string): Promise<NatsConnection> {
  const relay = await startTcpRelay({ port });
  relays.set(nodeId, relay);
  cleanups.push(() => relay.close());
  return client(relay.port);
}

describeNats('NATS buses', () => {
  const server = useNatsServer();

  describeBusConformance('core NATS bus', {
    timeout: 20_000,
    createBus: async ({ nodeId, maxMessageBytes }) => createNatsBus({ connection: await relayedClient(server.current.port, nodeId), nodeId, maxMessageBytes }),
    async interrupt(bus) {
      const relay = relays.get(bus.nodeId)!;
      relay.cut();
      return async () => relay.heal();
    },
  });

  let streamNumber = 0;
  describeBusConformance('JetStream bus', {
    durable: true,
    timeout: 20_000,
    createBus: async ({ nodeId, maxMessageBytes }) => {
      if (nodeId === 'a') streamNumber++;
      return createJetStreamBus({
        connection: await relayedClient(server.current.port, nodeId),
        nodeId,
        maxMessageBytes,
        stream: `CONFORMANCE_${streamNumber}`,
        prefix: `conformance.s${streamNumber}`,
        contactInterval: 200,
      });
    },
    async interrupt(bus) {
      const relay = relays.get(bus.nodeId)!;
      relay.cut();
      return async () => relay.heal();
    },
  });
});
