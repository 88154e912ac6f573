import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type Gateway, type GatewayConfigInput, createGateway } from '../src/index.js';
import { waitFor } from './helpers.js';

/** One upstream instance on loopback whose behaviour a test changes while it runs. */
export interface Pod {
  url: string;
  name: string;
  /** Requests answered (health probes excluded). */
  received: number;
  /** Requests being answered now. */
  inflight: number;
  /** TCP connections accepted. */
  connections: number;
  /** Answer 503 to requests. */
  failing: boolean;
  /** Fail health probes (`/health`). */
  probeFailing: boolean;
  /** Delay before answering, ms. */
  delay: number;
  close(): Promise<void>;
}

export type Cleanup = Array<() => Promise<void> | void>;

export async function startPod(name: string, cleanup: Cleanup): Promise<Pod> {
  const sockets = new Set<import('node:net').Socket>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (req.url === '/health') {
      res.writeHead(pod.probeFailing ? 503 : 200).end(pod.probeFailing ? 'down' : 'ok');
      return;
    }
    pod.received++;
    pod.inflight++;
    res.on('close', () => pod.inflight--);
    const answer = (): void => {
      if (pod.failing) res.writeHead(503, { 'content-type': 'text/plain' }).end('bad pod');
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pod: name, path: req.url }));
    };
    if (pod.delay > 0) setTimeout(answer, pod.delay);
    else answer();
  });
  const pod: Pod = {
    url: '',
    name,
    received: 0,
    inflight: 0,
    connections: 0,
    failing: false,
    probeFailing: false,
    delay: 0,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
  server.on('connection', (socket) => {
    pod.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => pod.close());
  pod.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return pod;
}

export async function startGateway(config: GatewayConfigInput, cleanup: Cleanup): Promise<{ gateway: Gateway; url: string }> {
  const gateway = await createGateway(config, { logger: () => undefined, env: {} });
  cleanup.push(() => gateway.close());
  const url = await gateway.listen();
  await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 10_000, 'the gateway to be ready');
  return { gateway, url };
}

/** Runs `workers` loops of GET requests until `until()` is true (checked between requests); returns every status. */
export async function loadUntil(url: string, until: () => boolean, workers = 8, path = '/api/items'): Promise<number[]> {
  const statuses: number[] = [];
  let n = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!until()) {
        n++;
        try {
          const reply = await fetch(`${url}${path}/${n}`);
          await reply.arrayBuffer();
          statuses.push(reply.status);
        } catch {
          statuses.push(0);
        }
      }
    }),
  );
  return statuses;
}

/** `count` GET requests over `workers` loops; returns every status. */
export async function loadCount(url: string, count: number, workers = 8, path = '/api/items', headers?: (i: number) => Record<string, string>): Promise<number[]> {
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < count) {
        const i = next++;
        try {
          const reply = await fetch(`${url}${path}/${i}`, headers === undefined ? undefined : { headers: headers(i) });
          await reply.arrayBuffer();
          statuses.push(reply.status);
        } catch {
          statuses.push(0);
        }
      }
    }),
  );
  return statuses;
}
