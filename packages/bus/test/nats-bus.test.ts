import type { TcpRelay } from '@edgekit/test-utils/node';
import { describeNats, useNatsServer } from '@edgekit/test-utils';
import type { NatsConnection } from '@nats-io/nats-core';
import { createJetStreamBus, createNatsBus } from '../src/nats.js';
import { describeBusConformance } from '../src/testing.js';
import { natsClient, relay } from './nats-helpers.js';

/** Connects through a relay that the test can cut, so one node is partitioned while the others are not. */
const relays = new Map<string, TcpRelay>();
async function relayedClient(port: number, nodeId: string): Promise<NatsConnection> {
  const link = await relay(port);
  relays.set(nodeId, link);
  return natsClient(link.port);
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
