import { describe, expect, it } from 'vitest';
import { type BusError, createMemoryBus, createMemoryBusHub } from '../src/index.js';
import { describeBusConformance } from '../src/testing.js';

{
  const hub = createMemoryBusHub();
  describeBusConformance('memory bus', { createBus: (options) => createMemoryBus({ hub, ...options }) });
}

describe('memory bus', () => {
  it('delivers a message to every node on the hub, the publisher included, marking local delivery', async () => {
    const hub = createMemoryBusHub();
    const a = createMemoryBus({ hub, nodeId: 'a' });
    const b = createMemoryBus({ hub, nodeId: 'b' });
    const seen: string[] = [];
    a.subscribe<{ tag: string }>('invalidate', (p, meta) => seen.push(`a:${p.tag}:${meta.origin}:${meta.local}`));
    b.subscribe<{ tag: string }>('invalidate', (p, meta) => seen.push(`b:${p.tag}:${meta.origin}:${meta.local}`));
    await a.publish('invalidate', { tag: 'product:1' });
    expect(seen).toEqual(['a:product:1:a:true', 'b:product:1:a:false']);
    await a.close();
    await b.close();
  });

  it('gives each subscriber its own copy of the payload', async () => {
    const bus = createMemoryBus();
    const payload = { tags: ['x'] };
    let received: { tags: string[] } | undefined;
    bus.subscribe<{ tags: string[] }>('c', (p) => (received = p));
    await bus.publish('c', payload);
    received!.tags.push('mutated');
    expect(payload.tags).toEqual(['x']);
  });

  it('keeps delivering when a handler throws, and reports the error', async () => {
    const bus = createMemoryBus();
    const errors: BusError[] = [];
    bus.on('error', (e) => errors.push(e));
    let second = false;
    bus.subscribe('c', () => {
      throw new Error('boom');
    });
    bus.subscribe('c', () => (second = true));
    await bus.publish('c', 1);
    expect(second).toBe(true);
    expect(errors.map((e) => [e.code, (e.cause as Error).message])).toEqual([['EBUSHANDLER', 'boom']]);
  });

  it('stops delivering after unsubscribe and rejects bad channel names', async () => {
    const bus = createMemoryBus();
    let count = 0;
    const sub = bus.subscribe('c', () => count++);
    await bus.publish('c', 1);
    sub.dispose();
    await bus.publish('c', 1);
    expect(count).toBe(1);
    expect(() => bus.subscribe('bad\r\nchannel', () => {})).toThrow(expect.objectContaining({ code: 'EBADCHANNEL' }));
    await expect(bus.publish('', 1)).rejects.toThrow(/channel/);
  });
});
