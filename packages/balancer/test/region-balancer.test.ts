import { createManualClock } from '@edgekit/core/testing';
import { type Endpoint, createRegionBalancer, createStaticEndpoints } from '@edgekit/balancer';
import { seededRandom } from '@edgekit/balancer/testing';
import { describe, expect, it } from 'vitest';

const urls = ['http://10.0.0.1:8080', 'http://10.0.0.2:8080', 'http://10.0.0.3:8080'];

function drive(region: ReturnType<typeof createRegionBalancer>, n: number, status: (e: Endpoint) => number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const e = region.pick()!;
    region.onRequestStart(e);
    region.onRequestEnd(e, { latencyMs: 2, status: status(e) });
    counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
  }
  return counts;
}

describe('region balancer', () => {
  it('ejects one failing endpoint of three; the region stays healthy and the error rate stays under 1 %', async () => {
    const clock = createManualClock();
    const region = createRegionBalancer({ name: 'eu', endpoints: urls, clock, random: seededRandom(3), outlierDetection: { maxEjectionPercent: 50 } });
    const ejected: string[] = [];
    region.on('eject', (e) => ejected.push(e.id));
    let errors = 0;
    const counts = drive(region, 3000, (e) => (e.url === urls[1] ? (errors++, 503) : 200));
    expect(ejected).toEqual([urls[1]]);
    expect(errors).toBe(5);
    expect(errors / 3000).toBeLessThan(0.01);
    expect(region.isHealthy()).toBe(true);
    expect(counts.get(urls[1]!)).toBe(5);
    const status = region.status();
    expect(status.endpoints.find((e) => e.id === urls[1])).toMatchObject({ ejected: true, ejections: 1 });
    expect(status.panic).toBe(false);
    await region.close();
  });

  it('takes the endpoint back after the ejection time', async () => {
    const clock = createManualClock();
    const region = createRegionBalancer({ endpoints: urls, clock, random: seededRandom(4), outlierDetection: { baseEjectionTime: 5000 } });
    drive(region, 200, (e) => (e.url === urls[0] ? 500 : 200));
    expect(region.status().endpoints[0]!.ejected).toBe(true);
    clock.advance(5000);
    const counts = drive(region, 300, () => 200);
    expect(counts.get(urls[0]!)).toBeGreaterThan(50);
    await region.close();
  });

  it('enters panic below the threshold and spreads traffic over every endpoint again', async () => {
    const clock = createManualClock();
    const region = createRegionBalancer({ endpoints: urls, clock, random: seededRandom(5), outlierDetection: { maxEjectionPercent: 100 } });
    const health: boolean[] = [];
    region.on('health', (e) => health.push(e.healthy));
    drive(region, 100, () => 500);
    // Two ejected (33 % healthy < 50 %): panic; the third would be allowed too but panic keeps all in play.
    expect(region.status().panic).toBe(true);
    expect(region.isHealthy()).toBe(false);
    const counts = drive(region, 300, () => 200);
    expect([...counts.keys()].sort()).toEqual([...urls].sort());
    expect(health.at(-1)).toBe(false);
    await region.close();
  });

  it('marks endpoints down from active checks and reports region health by the healthy share', async () => {
    const region = createRegionBalancer({ endpoints: urls, random: seededRandom(6), minHealthyPercent: 60, outlierDetection: false });
    expect(region.isHealthy()).toBe(true);
    region.setEndpointHealth(urls[0]!, false);
    expect(region.isHealthy()).toBe(true);
    const counts = drive(region, 100, () => 200);
    expect(counts.has(urls[0]!)).toBe(false);
    region.setEndpointHealth(urls[1]!, false);
    expect(region.isHealthy()).toBe(false);
    region.setEndpointHealth(urls[1]!, true);
    expect(region.isHealthy()).toBe(true);
    region.setEndpointHealth('http://unknown:1', false);
    expect(region.status().endpoints.map((e) => e.checked)).toEqual([false, true, true]);
    await region.close();
  });

  it('follows its endpoint set, reporting added and removed endpoints and keeping in-flight counts of the rest', async () => {
    const set = createStaticEndpoints(urls);
    const region = createRegionBalancer({ endpoints: set, random: seededRandom(7) });
    const first = region.endpoints()[2]!;
    region.onRequestStart(first);
    const changes: { added: string[]; removed: string[] }[] = [];
    region.on('endpoints', (c) => changes.push({ added: c.added.map((e) => e.id), removed: c.removed.map((e) => e.id) }));
    set.set([urls[1]!, urls[2]!, 'http://10.0.0.4:8080']);
    expect(changes).toEqual([{ added: ['http://10.0.0.4:8080'], removed: [urls[0]] }]);
    expect(region.status().endpoints.find((e) => e.id === urls[2])!.inflight).toBe(1);
    for (let i = 0; i < 100; i++) expect(region.pick()!.id).not.toBe(urls[0]);
    await region.close();
  });

  it('uses the balancer it is given, and hashes affinity keys', async () => {
    const region = createRegionBalancer({ endpoints: urls, balancer: 'maglev' });
    expect(region.balancer.kind).toBe('maglev');
    const home = region.pick({ key: 'user-42' });
    for (let i = 0; i < 20; i++) expect(region.pick({ key: 'user-42' })).toBe(home);
    await region.close();
  });

  it('rejects bad options with the option named', () => {
    expect(() => createRegionBalancer({} as never)).toThrow(/endpoints/);
    expect(() => createRegionBalancer({ endpoints: ['ftp://x'] })).toThrow(/url/);
    expect(() => createRegionBalancer({ endpoints: urls, balancer: 'random' as never })).toThrow(/balancer/);
    expect(() => createRegionBalancer({ endpoints: urls, panicThreshold: 120 })).toThrow(/panicThreshold/);
    expect(() => createRegionBalancer({ endpoints: [urls[0]!, urls[0]!] })).toThrow(/duplicate/);
    expect(() => createRegionBalancer({ endpoints: urls, outlierDetection: 5 as never })).toThrow(/outlierDetection/);
  });
});
