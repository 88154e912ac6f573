import { describeNats, useNatsServer, useNatsSupercluster } from '@edgekit/test-utils';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { expect, it } from 'vitest';
import type { BusGap } from '../src/index.js';
import { type DurableBus, createJetStreamBus } from '../src/nats.js';
import { natsClient as client, onCleanup, regionNode, relay, waitOnNats as waitFor } from './nats-helpers.js';

let streams = 0;
describeNats('JetStream bus', () => {
  const server = useNatsServer();

  function bus(connection: NatsConnection, nodeId: string, stream: number, extra: { durable?: string } = {}): DurableBus {
    const b = createJetStreamBus({ connection, nodeId, stream: `JS_${stream}`, prefix: `js.s${stream}`, contactInterval: 100, ...extra });
    onCleanup(() => b.close());
    return b;
  }

  it('falls behind while cut off, then replays what it missed in order, acknowledges it, and reports caughtUp with the count', async () => {
    const s = ++streams;
    const link = await relay(server.current.port);
    const a = bus(await client(server.current.port), 'us-east', s);
    const b = bus(await client(link.port), 'ap-south', s);
    const applied: number[] = [];
    const events: string[] = [];
    b.subscribe<number>('revoke', (n) => applied.push(n));
    b.on('behind', () => events.push('behind'));
    b.on('caughtUp', (info) => events.push(`caughtUp:${info.replayed}`));
    await Promise.all([a.whenCaughtUp(), b.whenCaughtUp()]);
    expect(b.lag).toBe(0);
    link.cut();
    await waitFor(() => !b.caughtUp);
    const contactAtCut = b.lastContact!;
    for (let i = 1; i <= 30; i++) await a.publish('revoke', i);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(b.lastContact).toBe(contactAtCut);
    expect(applied).toEqual([]);
    link.heal();
    await b.whenCaughtUp();
    expect(applied).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(b.lag).toBe(0);
    expect(b.lastContact!).toBeGreaterThan(contactAtCut);
    expect(events.at(-2)).toBe('behind');
    expect(events.at(-1)).toBe('caughtUp:30');
    // Every message was acknowledged after it was applied: nothing is left pending on the server.
    const jsm = await jetstreamManager(await client(server.current.port));
    let info = await jsm.consumers.info(`JS_${s}`, 'ap-south');
    const deadline = Date.now() + 10_000;
    while (info.num_ack_pending > 0 && Date.now() < deadline) info = await jsm.consumers.info(`JS_${s}`, 'ap-south');
    expect([info.num_pending, info.num_ack_pending, info.ack_floor.stream_seq]).toEqual([0, 0, info.delivered.stream_seq]);
  }, 60_000);

  it('resumes after a restart from its durable consumer: a new process with the same durable name replays the missed messages', async () => {
    const s = ++streams;
    const a = bus(await client(server.current.port), 'us-east', s);
    const first = bus(await client(server.current.port), 'eu-west', s);
    const seen: string[] = [];
    first.subscribe<string>('purge', (tag) => seen.push(`first:${tag}`));
    await Promise.all([a.whenCaughtUp(), first.whenCaughtUp()]);
    await a.publish('purge', 'before');
    await waitFor(() => seen.length === 1);
    await first.close();
    await a.publish('purge', 'while-down-1');
    await a.publish('purge', 'while-down-2');
    const second = bus(await client(server.current.port), 'eu-west', s);
    second.subscribe<string>('purge', (tag) => seen.push(`second:${tag}`));
    await second.whenCaughtUp();
    await waitFor(() => seen.length === 3);
    expect(seen).toEqual(['first:before', 'second:while-down-1', 'second:while-down-2']);
  }, 60_000);

  it('reports a gap when the stream lost messages the node never applied (purged while it was cut off)', async () => {
    const s = ++streams;
    const link = await relay(server.current.port);
    const admin = await client(server.current.port);
    const a = bus(admin, 'us-east', s);
    const b = bus(await client(link.port), 'ap-south', s);
    const gaps: BusGap['kind'][] = [];
    const seen: string[] = [];
    b.on('gap', (gap) => gaps.push(gap.kind));
    b.subscribe<string>('inv', (tag) => seen.push(tag));
    await Promise.all([a.whenCaughtUp(), b.whenCaughtUp()]);
    link.cut();
    await waitFor(() => !b.caughtUp);
    await a.publish('inv', 'lost');
    await (await jetstreamManager(admin)).streams.purge(`JS_${s}`);
    await a.publish('inv', 'kept');
    link.heal();
    await b.whenCaughtUp();
    await waitFor(() => seen.includes('kept'));
    expect(seen).toEqual(['kept']);
    expect(gaps).toEqual(['reconnected']);
  }, 60_000);

  it('rejects invalid options with errors that name the option', async () => {
    const nc = await client(server.current.port);
    expect(() => createJetStreamBus({ connection: {} as NatsConnection })).toThrow(/option "connection"/);
    expect(() => createJetStreamBus({ connection: nc, durable: 'a.b' })).toThrow(/option "durable"/);
    expect(() => createJetStreamBus({ connection: nc, prefix: 'a.>' })).toThrow(/option "prefix"/);
    expect(() => createJetStreamBus({ connection: nc, contactInterval: 0 })).toThrow(/option "contactInterval"/);
  });
});

describeNats('JetStream bus across a supercluster (one cluster per region, joined by gateways)', () => {
  const cluster = useNatsSupercluster({ 'us-east': 1, 'eu-west': 1, 'ap-south': 1 });

  it('delivers from us-east to every region, and after a partition of ap-south replays every revocation in order with none lost', async () => {
    const port = (region: string) => cluster.current.clusters.get(region)![0]!.port;
    const link = await relay(port('ap-south'));
    const nodes = {
      'us-east': regionNode(await client(port('us-east')), 'us-east'),
      'eu-west': regionNode(await client(port('eu-west')), 'eu-west'),
      'ap-south': regionNode(await client(link.port), 'ap-south'),
    };
    const seen: Record<string, number[]> = { 'eu-west': [], 'ap-south': [] };
    nodes['eu-west'].subscribe<number>('revoke', (n) => seen['eu-west']!.push(n));
    nodes['ap-south'].subscribe<number>('revoke', (n) => seen['ap-south']!.push(n));
    await Promise.all(Object.values(nodes).map((node) => node.whenCaughtUp()));
    await nodes['us-east'].publish('revoke', 0);
    await waitFor(() => seen['eu-west']!.length === 1 && seen['ap-south']!.length === 1);
    link.cut();
    await waitFor(() => !nodes['ap-south'].caughtUp);
    for (let i = 1; i <= 25; i++) await nodes['us-east'].publish('revoke', i);
    await waitFor(() => seen['eu-west']!.length === 26);
    expect(seen['ap-south']).toEqual([0]);
    link.heal();
    await nodes['ap-south'].whenCaughtUp();
    const all = Array.from({ length: 26 }, (_, i) => i);
    expect(seen['ap-south']).toEqual(all);
    expect(seen['eu-west']).toEqual(all);
  }, 90_000);
});
