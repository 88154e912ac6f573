import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import { type Socket, connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type Gateway, type GatewayConfigInput, createGateway } from '../src/index.js';
import { waitFor } from './helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

interface Origin {
  url: string;
  /** Paths received, health checks excluded. */
  paths: string[];
  /** Most requests in progress at once. */
  peak(): number;
}

/**
 * A regional origin: `/health` 200; `/api/broken` fails (503, or the connection is reset);
 * `/api/large` streams without end, as fast as it is taken; anything else reads the body and
 * answers 200 JSON.
 */
async function startOrigin(region: string, failure: '503' | 'reset'): Promise<Origin> {
  const paths: string[] = [];
  const sockets = new Set<Socket>();
  let active = 0;
  let peak = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    if (path === '/health') {
      res.end('ok');
      return;
    }
    paths.push(path);
    active++;
    peak = Math.max(peak, active);
    res.on('close', () => active--);
    if (path === '/api/broken') {
      if (failure === 'reset') req.socket.resetAndDestroy();
      else res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
      return;
    }
    if (path === '/api/large') {
      const chunk = Buffer.alloc(65_536, 97);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk));
      };
      res.on('drain', pump);
      pump();
      return;
    }
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ region, path })));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, paths, peak: () => peak };
}

/** The gateway with its defaults: three regions, nothing tuned but where it listens. */
async function startGateway(
  failure: '503' | 'reset',
  proxy: GatewayConfigInput['proxy'] = {},
  usConnections?: number,
  extra: Pick<GatewayConfigInput, 'server' | 'geo'> = {},
): Promise<{ gateway: Gateway; url: string; port: number; origins: Origin[] }> {
  const origins = await Promise.all(['us', 'eu', 'ap'].map((name) => startOrigin(name, failure)));
  const gateway = await createGateway(
    {
      edge: { location: 'test-edge', nodeId: 'node-1' },
      server: { host: '127.0.0.1', port: 0, shutdownDelay: 0, ...extra.server },
      regions: [
        { name: 'us', url: origins[0]!.url, location: { lat: 39.04, lon: -77.49 }, ...(usConnections === undefined ? {} : { connections: usConnections }) },
        { name: 'eu', url: origins[1]!.url, location: { lat: 53.35, lon: -6.26 } },
        { name: 'ap', url: origins[2]!.url, location: { lat: 1.35, lon: 103.82 } },
      ],
      routing: { defaultRegion: 'us' },
      geo: { resolver: 'none', ...extra.geo },
      telemetry: { defaultMetrics: false },
      proxy,
    },
    { logger: () => undefined, env: {} },
  );
  cleanup.push(() => gateway.close());
  const url = await gateway.listen();
  // A fresh connection each time (no keep-alive left behind to count against the per-client cap).
  await waitFor(async () => (await statusOf(`${url}/ready`, '127.0.0.1', 5_000)) === 200, 30_000, 'the gateway to be ready');
  return { gateway, url, port: Number(new URL(url).port), origins };
}

/** The status of a GET from client `ip`, or 0 when no answer came within `ms`. */
function statusOf(url: string, ip: string, ms = 15_000): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { headers: { 'x-forwarded-for': ip }, agent: false, signal: AbortSignal.timeout(ms) }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

describe('the gateway with its defaults', () => {
  for (const failure of ['503', 'reset'] as const) {
    it(`keeps other clients at 100 % while one client hammers a URL that fails with ${failure} at 50 requests/s`, async () => {
      const { gateway, url, origins } = await startGateway(failure);
      // 150 requests, one every 20 ms (50/s); the others browse until the last one is answered.
      const attacker: Array<Promise<number>> = [];
      let attacking = true;
      const attackDone = new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          attacker.push(statusOf(`${url}/api/broken`, '203.0.113.66'));
          if (attacker.length === 150) {
            clearInterval(timer);
            void Promise.all(attacker).then(() => resolve());
          }
        }, 20);
        cleanup.push(() => clearInterval(timer));
      });
      void attackDone.then(() => (attacking = false));
      const browse = async (n: number): Promise<number[]> => {
        const statuses: number[] = [];
        for (let i = 0; attacking; i++) {
          statuses.push(await statusOf(`${url}/api/page/${(i % 5) + 1}`, `198.51.100.${n}`));
          await new Promise((resolve) => setTimeout(resolve, 40));
        }
        return statuses;
      };
      const others = (await Promise.all([1, 2, 3, 4].map(browse))).flat();
      const attacks = await Promise.all(attacker);

      expect(attacks).toHaveLength(150);
      expect(attacks.filter((status) => status !== (failure === '503' ? 503 : 502))).toEqual([]);
      expect(others.length).toBeGreaterThan(20);
      expect(others.filter((status) => status !== 200)).toEqual([]);
      for (const region of gateway.status().regions) expect(region.breaker).toBe('closed');
      // The route's failure stayed the route's: eu and ap saw next to none of it.
      const elsewhere = origins[1]!.paths.concat(origins[2]!.paths).filter((path) => path === '/api/broken').length;
      expect(elsewhere).toBeLessThan(10);
    }, 120_000);
  }

  /** Raw client connections to the gateway, destroyed after the test. */
  function opener(port: number): () => Socket {
    const sockets: Socket[] = [];
    cleanup.push(() => sockets.forEach((s) => s.destroy()));
    return () => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      sockets.push(socket);
      return socket;
    };
  }

  it('answers other clients while one client trickles 150 uploads (408 below the minimum rate, 429 beyond its cap)', async () => {
    const { url, port, origins } = await startGateway('503', { clientBodyTimeout: 2_000 });
    const open = opener(port);
    const uploads = Array.from({ length: 150 }, () => {
      const socket = open();
      let received = '';
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
      });
      socket.write('POST /api/upload HTTP/1.1\r\nHost: gw\r\nX-Forwarded-For: 203.0.113.7\r\nContent-Length: 100000\r\n\r\nx');
      const timer = setInterval(() => socket.writable && socket.write('x'), 300);
      cleanup.push(() => clearInterval(timer));
      return () => /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
    });
    await waitFor(() => origins[0]!.paths.filter((path) => path === '/api/upload').length >= 64, 60_000, 'the uploads to reach the origin');
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => statusOf(`${url}/api/page/${i}`, `198.51.100.${i + 1}`, 40_000)));
    expect(others).toEqual(Array(20).fill(200));
    await waitFor(() => uploads.every((status) => status() !== undefined), 60_000, 'every upload to be answered');
    const statuses = uploads.map((status) => status());
    expect(statuses.filter((s) => s !== '408' && s !== '429')).toEqual([]);
    expect(statuses.filter((s) => s === '408').length).toBeGreaterThanOrEqual(64);
  }, 150_000);

  it('answers other clients while 140 clients never read an endless response, within the region\'s own pool size', async () => {
    const { url, port, origins } = await startGateway('503', { sendTimeout: 1_000 }, 100);
    const open = opener(port);
    for (let i = 0; i < 140; i++) {
      const socket = open();
      socket.pause();
      socket.write(`GET /api/large HTTP/1.1\r\nHost: gw\r\nX-Forwarded-For: 10.2.${i >> 8}.${i & 255}\r\n\r\n`);
    }
    await waitFor(() => origins[0]!.paths.length >= 100, 60_000, 'the non-reading clients to fill the pool');
    const others = await Promise.all(Array.from({ length: 20 }, (_, i) => statusOf(`${url}/api/page/${i}`, `198.51.100.${i + 1}`, 40_000)));
    expect(others).toEqual(Array(20).fill(200));
    // The region's own pool size held: never more than 100 requests at once.
    expect(origins[0]!.peak()).toBeLessThanOrEqual(100);
  }, 150_000);

  it('caps the connections one client address holds open, exempting trusted proxies', async () => {
    const { port } = await startGateway('503', {}, undefined, { server: { maxConnectionsPerClient: 3 }, geo: { trustedProxies: ['127.0.0.4/32'] } });
    const sockets: Socket[] = [];
    cleanup.push(() => sockets.forEach((s) => s.destroy()));
    // A client address of its own (Linux routes all of 127/8 to loopback): nothing else counts against it.
    const exchange = (localAddress = '127.0.0.3'): Promise<string> =>
      new Promise((resolve) => {
        const socket = connect({ port, host: '127.0.0.1', localAddress });
        sockets.push(socket);
        let received = '';
        socket.on('error', () => undefined);
        socket.on('data', (chunk: Buffer) => {
          received += chunk.toString('latin1');
          if (received.includes('\r\n\r\n')) resolve(received);
        });
        socket.on('close', () => resolve(received));
        socket.write('GET /api/x HTTP/1.1\r\nHost: gw\r\n\r\n');
      });
    for (let i = 0; i < 3; i++) expect(await exchange()).toMatch(/^HTTP\/1\.1 200/);
    // The fourth connection is closed before anything is read from it.
    expect(await exchange()).toBe('');
    // Closing one frees a place.
    sockets[0]!.destroy();
    await waitFor(async () => /^HTTP\/1\.1 200/.test(await exchange()), 30_000, 'a connection after one closed');
    // A trusted proxy in front carries many clients: not capped.
    for (let i = 0; i < 5; i++) expect(await exchange('127.0.0.4')).toMatch(/^HTTP\/1\.1 200/);
  }, 60_000);

  it('refuses bad connection, timeout and cap settings with their paths', async () => {
    const { parseConfig, ConfigError } = await import('../src/index.js');
    let error: unknown;
    try {
      parseConfig(
        {
          regions: [{ name: 'us', url: 'http://127.0.0.1:1', location: { lat: 0, lon: 0 }, connections: 0 }],
          proxy: { connections: 1.5, queueTimeout: -1, clientBodyTimeout: 'soon', clientBodyMinRate: -5, sendTimeout: -1, maxInFlightPerClient: -1, panicFraction: 2, routeWindow: 0 },
        },
        { env: {} },
      );
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const paths = (error as InstanceType<typeof ConfigError>).issues.map((issue) => issue.path).sort();
    expect(paths).toEqual(
      [
        'proxy.clientBodyMinRate',
        'proxy.clientBodyTimeout',
        'proxy.connections',
        'proxy.maxInFlightPerClient',
        'proxy.panicFraction',
        'proxy.queueTimeout',
        'proxy.routeWindow',
        'proxy.sendTimeout',
        'regions[0].connections',
      ].sort(),
    );
  });

  it('documents its defaults: a rate over a volume for breakers, and the proxy timeouts and caps', async () => {
    const { parseConfig } = await import('../src/index.js');
    const config = parseConfig({ regions: [{ name: 'us', url: 'http://127.0.0.1:1', location: { lat: 0, lon: 0 } }] }, { env: {} });
    expect(config.breakers).toMatchObject({ mode: 'percentage', errorThresholdPercentage: 50, volumeThreshold: 20, rollingCountTimeout: 10_000, resetTimeout: 10_000 });
    expect(config.proxy).toMatchObject({
      connections: 128,
      queueTimeout: 5_000,
      clientBodyTimeout: 10_000,
      clientBodyMinRate: 500,
      sendTimeout: 10_000,
      maxInFlightPerClient: 64,
      routeWindow: 10_000,
      panicFraction: 0.05,
    });
  });
});
