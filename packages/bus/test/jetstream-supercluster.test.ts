import { describeNats, useNatsSupercluster } from '@edgekit/test-utils';
import { type NatsSuperclusterHandle, type TcpRelay, startNatsSupercluster, startTcpRelay } from '@edgekit/test-utils/node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { isBusError } from '../src/index.js';
import { natsClient as client, regionNode as node, waitOnNats as waitFor } from './nats-helpers.js';

describeNats('JetStream bus when the link between two regions\u2019 clusters is cut (not a node\u2019s own link)', () => {
  // Every gateway connection to or from ap-south runs through a relay the test can cut.
  const relays: Array<{ from: string; to: string; relay: TcpRelay }> = [];
  let cluster: NatsSuperclusterHandle;
  beforeAll(async () => {
    cluster = await startNatsSupercluster(
      { 'us-east': 1, 'eu-west': 1, 'ap-south': 1 },
      {
        gatewayLink: async (from, to, target) => {
          const relay = await startTcpRelay(target);
          relays.push({ from, to, relay });
          return relay.port;
        },
      },
    );
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
    for (const { relay } of relays) await relay.close();
  });

  it('keeps the cut-off region connected to its own server but behind; after the heal it replays every message in order', async () => {
    const apSouthLinks = relays.filter(({ from, to }) => from === 'ap-south' || to === 'ap-south');
    const usEast = node(await client(cluster.urls('us-east')), 'us-east');
    const euWest = node(await client(cluster.urls('eu-west')), 'eu-west');
    const apSouth = node(await client(cluster.urls('ap-south')), 'ap-south');
    const seen: Record<string, number[]> = { 'eu-west': [], 'ap-south': [] };
    euWest.subscribe<number>('revoke', (n) => seen['eu-west']!.push(n));
    apSouth.subscribe<number>('revoke', (n) => seen['ap-south']!.push(n));
    await Promise.all([usEast, euWest, apSouth].map((bus) => bus.whenCaughtUp()));
    await usEast.publish('revoke', 0);
    await waitFor(() => seen['eu-west']!.length === 1 && seen['ap-south']!.length === 1);

    for (const { relay } of apSouthLinks) relay.cut();
    await waitFor(() => !apSouth.caughtUp);
    // Unlike a node partition, the node still has its server: the loss is the stream's region.
    expect(apSouth.connected).toBe(true);
    for (let i = 1; i <= 20; i++) await usEast.publish('revoke', i);
    await waitFor(() => seen['eu-west']!.length === 21);
    expect(seen['ap-south']).toEqual([0]);
    // A publish from the cut-off region is refused with a coded error, never silently dropped.
    const refused = await apSouth.publish('revoke', -1).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isBusError(refused) && ['ETIMEDOUT', 'EBUSTRANSPORT'].includes(refused.code)).toBe(true);

    for (const { relay } of apSouthLinks) relay.heal();
    await apSouth.whenCaughtUp();
    const all = Array.from({ length: 21 }, (_, i) => i);
    // The publisher's own handlers got its message at once (-1), as on every bus.
    expect(seen['ap-south']).toEqual([0, -1, ...all.slice(1)]);
    expect(seen['eu-west']).toEqual(all);
  }, 120_000);
});

describeNats('JetStream bus on a region of three nats-servers, stream replicas 3', () => {
  const cluster = useNatsSupercluster({ 'us-east': 3, 'eu-west': 1 });

  it('loses no acknowledged message when the stream leader is killed while publishing, and consumers resume', async () => {
    const options = { replicas: 3, stream: 'EDGEKIT_R3', prefix: 'r3.events' };
    const publisherConn = await client(cluster.current.urls('us-east'));
    const publisher = node(publisherConn, 'us-east-1', options);
    const consumer = node(await client(cluster.current.urls('eu-west')), 'eu-west-1', options);
    const received: number[] = [];
    consumer.subscribe<number>('purge', (n) => received.push(n));
    await Promise.all([publisher.whenCaughtUp(), consumer.whenCaughtUp()]);
    const jsm = await jetstreamManager(publisherConn);
    const info = await jsm.streams.info('EDGEKIT_R3');
    expect(info.config.num_replicas).toBe(3);
    const leader = cluster.current.clusters.get('us-east')!.find((s) => s.name === info.cluster?.leader);
    expect(leader, `leader ${info.cluster?.leader}`).toBeDefined();

    const acknowledged: number[] = [];
    for (let n = 1; n <= 60; n++) {
      if (n === 20) await leader!.kill(true);
      // A refused publish is retried, as a gateway retries a revocation it could not store.
      for (;;) {
        try {
          await publisher.publish('purge', n);
          acknowledged.push(n);
          break;
        } catch {
          // Not stored (the leader is gone, a new one not elected yet): try again.
        }
      }
    }
    await waitFor(() => acknowledged.every((n) => received.includes(n)), 60_000);
    // Every acknowledged message arrived, in order (a retried publish may arrive twice, next to itself).
    const firsts = received.filter((n, i) => received.indexOf(n) === i);
    expect(firsts).toEqual(acknowledged);
    expect(acknowledged).toHaveLength(60);
    await consumer.whenCaughtUp();
    await leader!.start();
  }, 180_000);
});
