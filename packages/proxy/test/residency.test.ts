import { createRegionSelector, createRequestSelector } from '@edgekit/geo';
import { createForwarder } from '@edgekit/proxy';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Behaviour, type Upstream, send, startFront, startUpstream } from './helpers.js';

const NAMES = ['eu', 'us', 'ap'] as const;
type Name = (typeof NAMES)[number];
const BEHAVIOURS: Behaviour[] = [{ kind: 'ok' }, { kind: 'ok', status: 503 }, { kind: 'reset' }];

let upstreams: Record<string, Upstream>;
let url: string;
let close: () => Promise<void>;
const state = { health: {} as Record<string, boolean>, open: {} as Record<string, boolean>, residency: { allowed: [] as string[], home: undefined as string | undefined } };

beforeAll(async () => {
  const list = await Promise.all(['eu-a', 'eu-b', 'us', 'ap'].map((n) => startUpstream(n)));
  upstreams = Object.fromEntries(list.map((u) => [u.name, u]));
  const regions = [
    { name: 'eu', url: 'http://eu.invalid', location: { lat: 50.11, lon: 8.68 }, endpoints: [upstreams['eu-a']!.url, upstreams['eu-b']!.url], outlierDetection: false as const, minHealthyPercent: 0 },
    { name: 'us', url: upstreams.us!.url, location: { lat: 39.04, lon: -77.49 } },
    { name: 'ap', url: upstreams.ap!.url, location: { lat: 1.35, lon: 103.82 } },
  ];
  const selector = createRequestSelector({ selector: createRegionSelector({ regions }), residency: () => state.residency });
  const permit = { success() {}, failure() {}, release() {} };
  const forwarder = createForwarder({
    selector,
    health: { isHealthy: (name) => state.health[name] !== false },
    breakers: { get: (name) => ({ tryAcquire: () => (state.open[name] ? undefined : permit) }) },
    retryBudget: false,
    retryBackoff: false,
    maxAttempts: 4,
  });
  const front = await startFront(forwarder);
  url = front.url;
  close = async () => {
    await front.close();
    await forwarder.close();
    await Promise.all(list.map((u) => u.close()));
  };
});

afterAll(() => close());

const regionOf = (upstream: string): Name => (upstream.startsWith('eu') ? 'eu' : (upstream as Name));

describe('residency through the forwarder', () => {
  it('never sends a tenant\'s request outside its allowed regions, under any combination of failures (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.subarray([...NAMES]),
        fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
        fc.record({ 'eu-a': fc.nat(2), 'eu-b': fc.nat(2), us: fc.nat(2), ap: fc.nat(2) }),
        fc.record({ eu: fc.boolean(), us: fc.boolean(), ap: fc.boolean() }),
        fc.record({ eu: fc.boolean(), us: fc.boolean(), ap: fc.boolean() }),
        async (allowed, home, behaviour, healthy, open) => {
          state.residency = { allowed, home };
          state.health = healthy;
          state.open = open;
          for (const [name, b] of Object.entries(behaviour)) {
            upstreams[name]!.behaviour = BEHAVIOURS[b]!;
            upstreams[name]!.received.length = 0;
          }
          const reply = await send(`${url}/data`);
          const reached = Object.values(upstreams).filter((u) => u.received.length > 0).map((u) => regionOf(u.name));
          expect(reached.every((r) => allowed.includes(r))).toBe(true);
          if (allowed.length === 0) {
            expect(reply.status).toBe(503);
            expect(reply.json().detail).toBe('no region may serve this request');
          }
          if (reply.status === 200) expect(allowed).toContain(regionOf(reply.json().region));
        },
      ),
      { numRuns: 60 },
    );
  });
});
