import { describe, expect, it } from 'vitest';
import { TypedEmitter } from '../src/index.js';

type Events = { change: [from: string, to: string]; done: [] };

describe('TypedEmitter', () => {
  it('delivers typed arguments and stops after dispose', () => {
    const emitter = new TypedEmitter<Events>();
    const seen: string[] = [];
    const handle = emitter.on('change', (from, to) => seen.push(`${from}->${to}`));
    emitter.emit('change', 'a', 'b');
    handle.dispose();
    emitter.emit('change', 'b', 'c');
    expect(seen).toEqual(['a->b']);
    expect(emitter.hasListeners('change')).toBe(false);
  });

  it('keeps calling other listeners when one throws, and reports the error', () => {
    const errors: unknown[] = [];
    const emitter = new TypedEmitter<Events>({ onListenerError: (error) => errors.push(error) });
    let reached = false;
    emitter.on('done', () => {
      throw new Error('bad listener');
    });
    emitter.on('done', () => (reached = true));
    expect(emitter.emit('done')).toBe(true);
    expect(reached).toBe(true);
    expect(errors).toHaveLength(1);
  });

  it('does not skip a neighbour when a listener removes itself during emit', () => {
    const emitter = new TypedEmitter<Events>();
    const calls: string[] = [];
    emitter.once('done', () => calls.push('first'));
    emitter.on('done', () => calls.push('second'));
    emitter.emit('done');
    emitter.emit('done');
    expect(calls).toEqual(['first', 'second', 'second']);
  });

  it('reports that nobody listened', () => {
    expect(new TypedEmitter<Events>().emit('done')).toBe(false);
  });
});
