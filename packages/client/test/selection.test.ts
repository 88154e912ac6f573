import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LatencyTable } from '../src/latency.js';
import { EdgeSelection } from '../src/selection.js';

const edges = [
  { id: 'a', region: 'eu', url: 'http://a.test' },
  { id: 'b', region: 'eu', url: 'http://b.test' },
  { id: 'c', region: 'us', url: 'http://c.test', weight: 0 },
];

const selectionOf = (hysteresis = 0.1, region?: string) => {
  const selection = new EdgeSelection(0.3, hysteresis, region, undefined);
  selection.setEdges(edges);
  return selection;
};

describe('selection with hysteresis', () => {
  it('never switches between two edges whose samples stay within 5 % of each other (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ min: 100, max: 105, noNaN: true }), fc.double({ min: 100, max: 105, noNaN: true })), { minLength: 1, maxLength: 60 }), (rounds) => {
        const selection = selectionOf();
        let changes = 0;
        rounds.forEach(([ra, rb], i) => {
          selection.latency.record('a', ra, i);
          selection.latency.record('b', rb, i);
          if (selection.reselect(i) !== undefined) changes++;
        });
        expect(changes).toBe(1);
      }),
    );
  });

  it('switches once another edge is faster by more than the hysteresis', () => {
    const selection = selectionOf(0.1);
    for (let i = 0; i < 3; i++) {
      selection.latency.record('a', 100, i);
      selection.latency.record('b', 100, i);
    }
    expect(selection.reselect(3)?.to).toBe('a');
    for (let i = 0; i < 3; i++) selection.latency.record('b', 85, 4 + i);
    const change = selection.reselect(10);
    expect(change).toMatchObject({ from: 'a', to: 'b', reason: expect.stringMatching(/^b faster by 1\d %/) });
  });

  it('keeps a drained edge (weight 0) and edges outside the pinned region out of the candidates', () => {
    const selection = selectionOf(0.1, 'eu');
    selection.latency.record('c', 1, 0);
    selection.reselect(0);
    expect(selection.candidates(0).map((e) => e.id)).toEqual(['a', 'b']);
    const pinnedToUs = selectionOf(0.1, 'us');
    expect(pinnedToUs.candidates(0)).toEqual([]);
    expect(pinnedToUs.rank(0).map((r) => [r.id, r.excluded])).toEqual([
      ['a', 'region'],
      ['b', 'region'],
      ['c', 'drained'],
    ]);
  });

  it('puts the current edge first among the candidates even when another ranks higher within the hysteresis', () => {
    const selection = selectionOf();
    selection.latency.record('a', 100, 0);
    selection.latency.record('b', 120, 0);
    selection.reselect(0);
    selection.latency.record('a', 100, 1);
    selection.latency.record('b', 96, 1);
    selection.reselect(1);
    expect(selection.current?.id).toBe('a');
    expect(selection.candidates(1).map((e) => e.id)).toEqual(['a', 'b']);
    expect(selection.lastReason).toBe('kept a: b within 10 % hysteresis');
  });
});

describe('latency averages', () => {
  it('replaces the connection-opening sample and ignores one stalled probe (median of three)', () => {
    const table = new LatencyTable(0.3);
    expect(table.record('a', 500, 0)).toMatchObject({ rtt: 500, provisional: true });
    expect(table.record('a', 100, 1).rtt).toBe(100);
    table.record('a', 100, 2);
    expect(table.record('a', 900, 3).rtt).toBe(100);
    expect(table.record('a', 100, 4).rtt).toBe(100);
  });

  it('lets a persisted figure stand until a probe on a warm connection answers', () => {
    const table = new LatencyTable(0.3);
    table.restore({ a: { rtt: 80, at: 0 } }, 10, 1_000);
    expect(table.record('a', 400, 11)).toMatchObject({ rtt: 80, samples: 0 });
    expect(table.record('a', 60, 12).rtt).toBe(70);
  });
});
