import type { TcpRelay } from '@edgekit/test-utils/node';
import { describeNats, useNatsServer } from '@edgekit/test-utils';
import type { NatsConnection } from '@nats-io/nats-core';
import { expect, it } from 'vitest';
import type { BusGap } from '../src/index.js';
import { createJetStreamBus, createNatsBus } from '../src/nats.js';
import { describeBusConformance } from '../src/testing.js';
import { natsClient, onCleanup, relay, waitOnNats } from './nats-helpers.js';

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
  it('reports reconnected only once the server has the re-sent subscriptions, so a message sent right after it arrives over a slow uplink', async () => {
    const link = await relay(server.current.port);
    const a = createNatsBus({ connection: await natsClient(server.current.port), nodeId: 'a' });
    const b = createNatsBus({ connection: await natsClient(link.port), nodeId: 'b' });
    onCleanup(() => a.close());
    onCleanup(() => b.close());
    const gaps: BusGap['kind'][] = [];
    const seen: string[] = [];
    b.on('gap', (g) => gaps.push(g.kind));
    b.subscribe<string>('slow', (p) => seen.push(p));
    link.cut();
    await waitOnNats(() => gaps.includes('disconnected'));
    // The client's re-sent SUB now reaches the server 300 ms after the client considers itself reconnected.
    link.delayUpstream(300);
    link.heal();
    await new Promise<void>((resolve) => b.on('gap', (g) => g.kind === 'reconnected' && resolve()));
    await a.publish('slow', 'right after');
    await waitOnNats(() => seen.length > 0, 5_000);
    expect(seen).toEqual(['right after']);
    expect(gaps).toEqual(['disconnected', 'reconnected']);
  });
});
