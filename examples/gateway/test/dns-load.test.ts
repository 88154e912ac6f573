import { type Server, createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type DnsServer, startDnsServer } from '../../../packages/balancer/test/dns-server.js';
import { waitFor } from './helpers.js';
import { type Cleanup, loadUntil, startGateway } from './pods.js';

const cleanup: Cleanup = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** One instance per loopback address (127.0.0.1, .2, .3), all on the same port, as pods behind a headless Service. */
async function startInstances(addresses: string[]): Promise<{ port: number; received: Map<string, number> }> {
  const received = new Map<string, number>();
  let port = 0;
  for (const address of addresses) {
    const server: Server = createServer((req, res) => {
      req.resume();
      received.set(address, (received.get(address) ?? 0) + 1);
      // A little latency keeps requests in flight when discovery removes the instance.
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pod: address })), 20);
    });
    await new Promise<void>((resolve) => server.listen(port, address, resolve));
    port = (server.address() as { port: number }).port;
    const sockets = new Set<import('node:net').Socket>();
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    cleanup.push(() => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }));
  }
  return { port, received };
}

describe('DNS discovery under load', () => {
  it('follows changing A answers from a DNS server on loopback without a failed request', async () => {
    const addresses = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    const { port, received } = await startInstances(addresses);
    const answer = (list: string[]) => ({ 'orders.svc.local': { A: list.map((address) => ({ address, ttl: 1 })) } });
    const dns: DnsServer = await startDnsServer(answer(['127.0.0.1', '127.0.0.2']));
    cleanup.push(() => dns.close());
    const { gateway, url } = await startGateway({
      edge: { location: 'test-edge', nodeId: 'node-1' },
      server: { host: '127.0.0.1', port: 0, shutdownDelay: 0 },
      regions: [{ name: 'eu', url: 'http://orders.internal', location: { lat: 50.11, lon: 8.68 }, endpoints: { dns: 'orders.svc.local', port, servers: [dns.address], minTtl: 50, maxTtl: 100 } }],
      geo: { resolver: 'none' },
      telemetry: { defaultMetrics: false },
      cache: { enabled: false },
      health: { endpoints: false },
    }, cleanup);
    const current = () => gateway.status().regions[0]!.endpoints!.map((e) => e.url).sort();
    await waitFor(() => current().length === 2, 10_000, 'the first answer');
    let stop = false;
    const running = loadUntil(url, () => stop, 12);
    for (const next of [['127.0.0.2', '127.0.0.3'], ['127.0.0.3'], ['127.0.0.1', '127.0.0.3'], ['127.0.0.1', '127.0.0.2', '127.0.0.3']]) {
      const before = received.get(next.at(-1)!) ?? 0;
      dns.zone = answer(next);
      await waitFor(() => current().join() === next.map((a) => `http://${a}:${port}`).sort().join(), 10_000, `endpoints ${next.join(', ')}`);
      await waitFor(() => (received.get(next.at(-1)!) ?? 0) > before + 25, 10_000, `traffic on ${next.at(-1)}`);
    }
    stop = true;
    const statuses = await running;
    expect(statuses.length).toBeGreaterThan(100);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  }, 60_000);
});
