import { Resolver } from 'node:dns/promises';
import { type ManualClock, createManualClock } from '@edgekit/core/testing';
import { type DnsResolver, type EndpointSet, createDnsEndpoints } from '@edgekit/balancer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DnsServer, startDnsServer } from './dns-server.js';

let server: DnsServer;
let clock: ManualClock;
let queriedAt: number[];
const sets: EndpointSet[] = [];

/** A real resolver against the loopback server that notes when (on the manual clock) each query starts. */
function timedResolver(): DnsResolver {
  const real = new Resolver({ timeout: 5000, tries: 1 });
  real.setServers([server.address]);
  const note = <T>(p: Promise<T>): Promise<T> => (queriedAt.push(clock.now()), p);
  return {
    resolve4: (name, options) => note(real.resolve4(name, options)),
    resolve6: (name, options) => note(real.resolve6(name, options)),
    resolveSrv: (name) => note(real.resolveSrv(name)),
    cancel: () => real.cancel(),
  };
}

const nextChange = (set: EndpointSet): Promise<string[]> =>
  new Promise((resolve) => {
    const handle = set.on('change', (list) => {
      handle.dispose();
      resolve(list.map((e) => `${e.url} ${e.weight}`));
    });
  });

beforeEach(async () => {
  server = await startDnsServer();
  clock = createManualClock(0);
  queriedAt = [];
});

afterEach(async () => {
  for (const set of sets.splice(0)) await set.close();
  await server.close();
});

describe('DNS endpoint sets against a DNS server on loopback', () => {
  it('resolves A records to endpoints and re-resolves when the TTL expires', async () => {
    server.zone = { 'orders.svc.local': { A: [{ address: '10.0.0.1', ttl: 5 }, { address: '10.0.0.2', ttl: 7 }] } };
    const set = createDnsEndpoints({ name: 'orders.svc.local', port: 8080, resolver: timedResolver(), clock });
    sets.push(set);
    await set.ready();
    expect(set.current().map((e) => e.url)).toEqual(['http://10.0.0.1:8080', 'http://10.0.0.2:8080']);
    server.zone = { 'orders.svc.local': { A: [{ address: '10.0.0.2', ttl: 5 }, { address: '10.0.0.3', ttl: 5 }] } };
    const changed = nextChange(set);
    clock.advance(4999);
    expect(queriedAt).toEqual([0]);
    clock.advance(1);
    expect(await changed).toEqual(['http://10.0.0.2:8080 1', 'http://10.0.0.3:8080 1']);
    expect(queriedAt).toEqual([0, 5000]);
  });

  it('keeps the refresh interval between minTtl and maxTtl', async () => {
    server.zone = { 'a.local': { A: [{ address: '10.0.0.1', ttl: 0 }] }, 'b.local': { A: [{ address: '10.0.0.1', ttl: 86_400 }] } };
    const fast = createDnsEndpoints({ name: 'a.local', resolver: timedResolver(), clock, minTtl: 2000 });
    sets.push(fast);
    await fast.ready();
    clock.advance(1999);
    expect(queriedAt).toEqual([0]);
    clock.advance(1);
    expect(queriedAt).toEqual([0, 2000]);
    await fast.close();
    queriedAt = [];
    const slow = createDnsEndpoints({ name: 'b.local', resolver: timedResolver(), clock, maxTtl: 30_000 });
    sets.push(slow);
    await slow.ready();
    const start = clock.now();
    clock.advance(29_999);
    expect(queriedAt).toEqual([start]);
    clock.advance(1);
    expect(queriedAt).toEqual([start, start + 30_000]);
  });

  it('reads SRV answers: ports and weights of the lowest priority, targets resolved to addresses', async () => {
    server.zone = {
      '_http._tcp.orders.local': {
        SRV: [
          { priority: 10, weight: 60, port: 8081, target: 'pod-a.orders.local', ttl: 30 },
          { priority: 10, weight: 20, port: 8082, target: 'pod-b.orders.local', ttl: 30 },
          { priority: 20, weight: 100, port: 9000, target: 'backup.orders.local', ttl: 30 },
        ],
      },
      'pod-a.orders.local': { A: [{ address: '10.0.1.1', ttl: 30 }] },
      'pod-b.orders.local': { A: [{ address: '10.0.1.2', ttl: 30 }], AAAA: [{ address: 'fd00::2', ttl: 30 }] },
      'backup.orders.local': { A: [{ address: '10.0.9.9', ttl: 30 }] },
    };
    const set = createDnsEndpoints({ name: '_http._tcp.orders.local', record: 'SRV', servers: [server.address], clock });
    sets.push(set);
    await set.ready();
    expect(set.current().map((e) => `${e.url} ${e.weight}`)).toEqual(['http://10.0.1.1:8081 60', 'http://10.0.1.2:8082 20', 'http://[fd00::2]:8082 20']);
  });

  it('keeps the last endpoints when the server fails, reports EDNS and retries after minTtl', async () => {
    server.zone = { 'c.local': { A: [{ address: '10.0.0.1', ttl: 1 }] } };
    const set = createDnsEndpoints({ name: 'c.local', resolver: timedResolver(), clock, minTtl: 1000 });
    sets.push(set);
    await set.ready();
    server.zone = { 'c.local': { rcode: 2 } };
    const error = new Promise<{ code: string; target: string }>((resolve) => set.on('error', (e) => resolve(e)));
    clock.advance(1000);
    expect(await error).toMatchObject({ code: 'EDNS', target: 'c.local' });
    expect(set.current().map((e) => e.url)).toEqual(['http://10.0.0.1']);
    server.zone = { 'c.local': { A: [{ address: '10.0.0.5', ttl: 1 }] } };
    const changed = nextChange(set);
    clock.advance(1000);
    expect(await changed).toEqual(['http://10.0.0.5 1']);
  });

  it('empties the set on an NXDOMAIN answer (a Service scaled to zero)', async () => {
    server.zone = { 'd.local': { AAAA: [{ address: 'fd00::1', ttl: 1 }] } };
    const set = createDnsEndpoints({ name: 'd.local', record: 'AAAA', port: 9000, resolver: timedResolver(), clock });
    sets.push(set);
    await set.ready();
    expect(set.current().map((e) => e.url)).toEqual(['http://[fd00::1]:9000']);
    server.zone = {};
    const changed = nextChange(set);
    clock.advance(1000);
    expect(await changed).toEqual([]);
  });

  it('rejects ready() when the first query fails, and checks its options', async () => {
    server.zone = { 'e.local': { rcode: 2 } };
    const set = createDnsEndpoints({ name: 'e.local', resolver: timedResolver(), clock });
    sets.push(set);
    await expect(set.ready()).rejects.toMatchObject({ code: 'EDNS' });
    expect(() => createDnsEndpoints({ name: '' })).toThrow(/name/);
    expect(() => createDnsEndpoints({ name: 'x', record: 'MX' as never })).toThrow(/record/);
    expect(() => createDnsEndpoints({ name: 'x', minTtl: 5000, maxTtl: 1000 })).toThrow(/maxTtl/);
  });
});
