import { createRegionSelector, createRequestSelector } from '@edgekit/geo';
import { createForwarder } from '@edgekit/proxy';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Behaviour, type Upstream, send, startFront, startUpstream } from './helpers.js';

const NAMES = ['eu', 'us', 'ap', 'sa'] as const;
const LOCATIONS = { eu: { lat: 50.11, lon: 8.68 }, us: { lat: 39.04, lon: -77.49 }, ap: { lat: 1.35, lon: 103.82 }, sa: { lat: -23.55, lon: -46.63 } };
const SECRET = 'residency-property-secret-0123456789abcdef';

let upstreams: Upstream[];
let front: Awaited<ReturnType<typeof startFront>>;
let close: () => Promise<void>;
// What each run sets: the tenant's residency, which regions report unhealthy, which breakers are open.
let residency: { home?: string; allowed?: string[] } | undefined;
let unhealthy = new Set<string>();
let open = new Set<string>();
let hintFor: (region: string) => string;

beforeAll(async () => {
  upstreams = await Promise.all(NAMES.map((name) => startUpstream(name)));
  const regions = upstreams.map((u) => ({ name: u.name, url: u.url, location: LOCATIONS[u.name as keyof typeof LOCATIONS] }));
  const selector = createRequestSelector({
    selector: createRegionSelector({ regions }),
    residency: (req) => (req.headers['x-tenant'] === 'acme' ? residency : undefined),
    hint: { secrets: [SECRET], subject: (req) => (typeof req.headers['x-tenant'] === 'string' ? req.headers['x-tenant'] : undefined) },
  });
  hintFor = (region) => selector.signHint(region, { subject: 'acme' });
  const forwarder = createForwarder({
    selector,
    health: { isHealthy: (name) => !unhealthy.has(name) },
    breakers: { get: (name) => ({ tryAcquire: () => (open.has(name) ? undefined : { success() {}, failure() {}, release() {} }) }) },
    maxAttempts: 4,
    retryBudget: false,
  });
  front = await startFront(forwarder);
  close = async () => {
    await front.close();
    await forwarder.close();
    for (const u of upstreams) await u.close();
  };
});
afterAll(() => close());

const behaviours: Behaviour[] = [{ kind: 'ok' }, { kind: 'ok', status: 503 }, { kind: 'reset' }];

describe('residency under any failure combination (property)', () => {
  it('never sends a tenant\'s request to a region outside its allowed set, whatever fails, the hint and the location; none allowed → 503', async () => {
    const subset = fc.subarray([...NAMES]);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          allowed: fc.option(subset, { nil: undefined }),
          home: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
          unhealthy: subset,
          open: subset,
          hint: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
          behaviour: fc.array(fc.nat(behaviours.length - 1), { minLength: NAMES.length, maxLength: NAMES.length }),
        }),
        async (run) => {
          residency = { ...(run.home === undefined ? {} : { home: run.home }), ...(run.allowed === undefined ? {} : { allowed: run.allowed }) };
          unhealthy = new Set(run.unhealthy);
          open = new Set(run.open);
          upstreams.forEach((u, i) => {
            u.behaviour = behaviours[run.behaviour[i]!]!;
            u.received.length = 0;
          });
          const headers: Record<string, string> = { 'x-tenant': 'acme' };
          if (run.hint !== undefined) headers['x-edgekit-region'] = hintFor(run.hint);
          const reply = await send(`${front.url}/item`, { headers });
          const reached = upstreams.filter((u) => u.received.length > 0).map((u) => u.name);
          if (run.allowed !== undefined) {
            for (const name of reached) expect(run.allowed).toContain(name);
            if (run.allowed.length === 0) expect(reply.status).toBe(503);
          }
        },
      ),
      { numRuns: 80 },
    );
  }, 120_000);
});
