import { afterEach, describe, expect, it } from 'vitest';
import { isBusError } from './errors.js';
import type { Bus, BusGap, BusMeta } from './types.js';

/** How the conformance suite builds and disturbs the buses of one driver. */
export interface BusConformanceHarness {
  /** Creates a bus node that shares a transport with every other node this harness creates. */
  createBus(options: { nodeId: string; maxMessageBytes: number }): Bus | Promise<Bus>;
  /**
   * Cuts `bus` off its transport (others may be cut too) and resolves with a function that restores
   * it. Omit it for a transport that cannot fail, such as the in-process memory bus.
   */
  interrupt?(bus: Bus): Promise<() => Promise<void>>;
  /**
   * True for a durable driver: messages published while a node was cut are delivered to it after
   * the restore, in order, and it reports no gap. Requires `interrupt` to cut only the given bus.
   */
  durable?: boolean;
  /** How long to wait for a delivery or an event, in ms. Default: 10000. */
  timeout?: number;
}

const MAX_MESSAGE_BYTES = 4096;

function waitUntil(predicate: () => boolean, timeout: number, what: string): Promise<void> {
  const deadline = Date.now() + timeout;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (predicate()) resolve();
      else if (Date.now() > deadline) reject(new Error(`bus conformance: ${what} did not happen within ${timeout} ms`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

/**
 * The behaviour every {@link Bus} driver must show, as a Vitest suite: delivery to every node,
 * ordering per channel, oversized and unencodable messages refused with a coded error, close
 * semantics and, where the transport can fail, gap detection (or, for a durable driver, replay).
 *
 * @example
 * describeBusConformance('memory bus', { createBus: (o) => createMemoryBus({ hub, ...o }) });
 */
export function describeBusConformance(name: string, harness: BusConformanceHarness): void {
  const timeout = harness.timeout ?? 10_000;
  const open: Bus[] = [];
  let probes = 0;

  const node = async (nodeId: string): Promise<Bus> => {
    const bus = await harness.createBus({ nodeId, maxMessageBytes: MAX_MESSAGE_BYTES });
    open.push(bus);
    return bus;
  };

  /** Subscribes a probe channel last on every node and publishes until each one hears it, so earlier subscriptions are live. */
  const joined = async (nodes: Bus[]): Promise<void> => {
    const channel = `conformance-probe-${++probes}`;
    const heard = new Set<string>();
    const subs = nodes.map((n) => n.subscribe(channel, () => heard.add(n.nodeId)));
    const deadline = Date.now() + timeout;
    try {
      while (heard.size < nodes.length) {
        if (Date.now() > deadline) throw new Error(`bus conformance: nodes did not join within ${timeout} ms`);
        if (nodes.every((n) => n.connected)) await nodes[0]!.publish(channel, 'probe').catch(() => {});
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    } finally {
      for (const sub of subs) sub.dispose();
    }
  };

  describe(`${name}: bus conformance`, () => {
    afterEach(async () => {
      for (const bus of open.splice(0).reverse()) await bus.close();
    });

    it('delivers a message to every node once, the publisher included, with its origin', async () => {
      const nodes = await Promise.all(['a', 'b', 'c'].map(node));
      const seen: string[] = [];
      for (const n of nodes) n.subscribe<{ tag: string }>('inv', (p, meta) => seen.push(`${n.nodeId}<-${meta.origin}:${meta.local}:${p.tag}`));
      await joined(nodes);
      await nodes[0]!.publish('inv', { tag: 't1' });
      await waitUntil(() => seen.length >= 3, timeout, 'delivery to three nodes');
      await nodes[0]!.publish('inv', { tag: 'end' });
      await waitUntil(() => seen.length >= 6, timeout, 'the second delivery');
      expect(seen.filter((s) => s.endsWith(':t1')).sort()).toEqual(['a<-a:true:t1', 'b<-a:false:t1', 'c<-a:false:t1']);
      expect(seen).toHaveLength(6);
    });

    it('keeps the publish order of each channel on every receiving node', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      const received: Record<string, number[]> = { x: [], y: [] };
      b!.subscribe<number>('order-x', (n) => received.x!.push(n));
      b!.subscribe<number>('order-y', (n) => received.y!.push(n));
      await joined([a!, b!]);
      const sent = Array.from({ length: 200 }, (_, i) => i);
      await Promise.all(sent.map((i) => a!.publish(i % 2 === 0 ? 'order-x' : 'order-y', i)));
      await waitUntil(() => received.x!.length + received.y!.length === 200, timeout, 'delivery of 200 messages');
      expect(received.x).toEqual(sent.filter((i) => i % 2 === 0));
      expect(received.y).toEqual(sent.filter((i) => i % 2 === 1));
    });

    it('delivers only to subscribers of the channel, and not after unsubscribe', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      const seen: string[] = [];
      b!.subscribe<string>('only-x', (p) => seen.push(`x:${p}`));
      const sub = b!.subscribe<string>('only-y', (p) => seen.push(`y:${p}`));
      await joined([a!, b!]);
      sub.dispose();
      await a!.publish('only-y', 'dropped');
      await a!.publish('only-x', 'kept');
      await waitUntil(() => seen.includes('x:kept'), timeout, 'delivery on only-x');
      expect(seen).toEqual(['x:kept']);
    });

    it('reports a throwing handler as EBUSHANDLER and still runs the other handlers', async () => {
      const bus = await node('a');
      const errors: unknown[] = [];
      bus.on('error', (e) => errors.push(e));
      const seen: unknown[] = [];
      bus.subscribe('boom', () => {
        throw new Error('handler failed');
      });
      bus.subscribe('boom', (p) => seen.push(p));
      await joined([bus]);
      await bus.publish('boom', 1);
      await waitUntil(() => seen.length === 1, timeout, 'delivery to the second handler');
      expect(errors).toHaveLength(1);
      expect(isBusError(errors[0]) && errors[0].code).toBe('EBUSHANDLER');
      expect(isBusError(errors[0]) && errors[0].channel).toBe('boom');
    });

    it('refuses an oversized message with EMSGSIZE and delivers nothing of it, and accepts one under the limit', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      const seen: string[] = [];
      for (const n of [a!, b!]) n.subscribe<string>('big', (p) => seen.push(`${n.nodeId}:${p.length}`));
      await joined([a!, b!]);
      const error = await a!.publish('big', 'x'.repeat(MAX_MESSAGE_BYTES)).catch((e: unknown) => e);
      expect(isBusError(error) && error.code).toBe('EMSGSIZE');
      expect(isBusError(error) && error.channel).toBe('big');
      await a!.publish('big', 'x'.repeat(MAX_MESSAGE_BYTES - 200));
      await waitUntil(() => seen.length >= 2, timeout, 'delivery of the message under the limit');
      expect(seen.sort()).toEqual([`a:${MAX_MESSAGE_BYTES - 200}`, `b:${MAX_MESSAGE_BYTES - 200}`]);
    });

    it('refuses a payload JSON cannot carry with EBADPAYLOAD and a bad channel with EBADCHANNEL', async () => {
      const bus = await node('a');
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      for (const payload of [10n, cyclic, undefined]) {
        const error = await bus.publish('payload', payload).catch((e: unknown) => e);
        expect(isBusError(error) && error.code).toBe('EBADPAYLOAD');
      }
      for (const channel of ['', 'a\r\nb', 'x'.repeat(257)]) {
        const error = await bus.publish(channel, 1).catch((e: unknown) => e);
        expect(isBusError(error) && error.code).toBe('EBADCHANNEL');
        expect(() => bus.subscribe(channel, () => {})).toThrow(expect.objectContaining({ code: 'EBADCHANNEL' }));
      }
    });

    it('after close(): publish rejects and subscribe throws EBUSCLOSED, nothing is delivered, close is idempotent', async () => {
      const [a, b] = await Promise.all([node('a'), node('b')]);
      const seen: string[] = [];
      b!.subscribe<string>('closing', (p) => seen.push(`b:${p}`));
      a!.subscribe<string>('closing', (p) => seen.push(`a:${p}`));
      await joined([a!, b!]);
      await b!.close();
      await b!.close();
      expect(b!.connected).toBe(false);
      const error = await b!.publish('closing', 'late').catch((e: unknown) => e);
      expect(isBusError(error) && error.code).toBe('EBUSCLOSED');
      expect(() => b!.subscribe('closing', () => {})).toThrow(expect.objectContaining({ code: 'EBUSCLOSED' }));
      await a!.publish('closing', 'after');
      await waitUntil(() => seen.includes('a:after'), timeout, 'delivery to the open node');
      await a![Symbol.asyncDispose]();
      expect(a!.connected).toBe(false);
      expect(seen).toEqual(['a:after']);
    });

    if (harness.interrupt && !harness.durable) {
      it('reports a gap when the transport is cut and again once delivery is restored, then delivers again', async () => {
        const [a, b] = await Promise.all([node('a'), node('b')]);
        const gaps: BusGap['kind'][] = [];
        const seen: unknown[] = [];
        b!.on('gap', (g) => gaps.push(g.kind));
        b!.subscribe('gap', (p) => seen.push(p));
        await joined([a!, b!]);
        const restore = await harness.interrupt!(b!);
        await waitUntil(() => gaps.includes('disconnected'), timeout, 'the disconnected gap');
        expect(b!.connected).toBe(false);
        await restore();
        await waitUntil(() => gaps.includes('reconnected'), timeout, 'the reconnected gap');
        expect(b!.connected).toBe(true);
        await waitUntil(() => a!.connected, timeout, 'the publisher reconnecting');
        await a!.publish('gap', 'after');
        await waitUntil(() => seen.includes('after'), timeout, 'delivery after the gap');
        expect(gaps).toEqual(['disconnected', 'reconnected']);
      }, timeout * 5);
    }

    if (harness.interrupt && harness.durable) {
      it('replays to a cut node, in order and without a gap, what was published while it was cut', async () => {
        const [a, b] = await Promise.all([node('a'), node('b')]);
        const gaps: BusGap['kind'][] = [];
        const seen: Array<[number, BusMeta]> = [];
        b!.on('gap', (g) => gaps.push(g.kind));
        b!.subscribe<number>('replay', (p, meta) => seen.push([p, meta]));
        await joined([a!, b!]);
        await a!.publish('replay', 0);
        await waitUntil(() => seen.length === 1, timeout, 'delivery before the cut');
        const restore = await harness.interrupt!(b!);
        for (let i = 1; i <= 20; i++) await a!.publish('replay', i);
        await restore();
        await waitUntil(() => seen.length >= 21, timeout, 'the replay');
        expect(seen.map(([p]) => p)).toEqual(Array.from({ length: 21 }, (_, i) => i));
        expect(seen.every(([, meta]) => meta.origin === 'a' && !meta.local)).toBe(true);
        expect(gaps).not.toContain('reconnected');
      }, timeout * 5);
    }
  });
}
