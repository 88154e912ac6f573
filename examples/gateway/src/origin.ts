import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Options of {@link startDemoOrigin}. */
export interface DemoOriginOptions {
  /** Region name reported in every answer. */
  region: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
}

/** A regional origin for the demo and the tests: answers JSON naming its region, and can be told to fail. */
export interface DemoOrigin {
  readonly region: string;
  readonly url: string;
  readonly port: number;
  /** Requests received, by path (health checks included). */
  readonly hits: Map<string, number>;
  /** Requests received on non-health paths. */
  readonly requests: number;
  /** `false`: `/health` answers 503. */
  setHealthy(healthy: boolean): void;
  /** A status every non-health request answers with (`undefined`: normal answers). */
  setFailure(status: number | undefined): void;
  /** Extra delay before every non-health answer, ms. */
  setDelay(ms: number): void;
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Starts a demo origin. Paths: `GET /health`; `GET /api/products/:id` (cacheable, tagged
 * `product-<id>` and `products`); `GET /api/ticker` (a counter, fresh for 1 s, then served stale
 * while it revalidates); `GET /slow?ms=N`; `POST /__control` with `{ healthy, failure,
 * delay }`; anything else echoes method, path and region.
 */
export async function startDemoOrigin(options: DemoOriginOptions): Promise<DemoOrigin> {
  const { region } = options;
  let healthy = true;
  let failure: number | undefined;
  let delay = 0;
  let requests = 0;
  let ticks = 0;
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();

  const answer = (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): void => {
    if (failure !== undefined) {
      json(res, failure, { region, error: 'failing on purpose' });
      return;
    }
    const product = /^\/api\/products\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && product) {
      const id = product[1]!;
      json(res, 200, { region, id, name: `Product ${id}`, servedAt: Date.now() }, {
        'cache-control': 'public, max-age=30, stale-while-revalidate=30',
        'surrogate-key': `product-${id} products`,
      });
      return;
    }
    if (req.method === 'GET' && path === '/api/ticker') {
      ticks++;
      json(res, 200, { region, tick: ticks }, { 'cache-control': 'public, max-age=1, stale-while-revalidate=30' });
      return;
    }
    if (path === '/slow') {
      const ms = Math.min(Number(query.get('ms') ?? '1000') || 0, 60_000);
      const timer = setTimeout(() => json(res, 200, { region, path, waitedMs: ms }), ms);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => {
      json(
        res,
        req.method === 'POST' ? 201 : 200,
        { region, method: req.method, path, bodyBytes: size, query: Object.fromEntries(query), traceparent: req.headers.traceparent ?? null },
        { 'cache-control': 'no-store' },
      );
    });
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin.invalid');
    const path = url.pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    if (path === '/health') {
      json(res, healthy ? 200 : 503, { region, healthy }, { 'cache-control': 'no-store' });
      return;
    }
    if (path === '/__control' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { healthy?: boolean; failure?: number | null; delay?: number };
          if (typeof body.healthy === 'boolean') healthy = body.healthy;
          if (body.failure !== undefined) failure = body.failure ?? undefined;
          if (typeof body.delay === 'number') delay = body.delay;
          json(res, 200, { region, healthy, failure: failure ?? null, delay });
        } catch {
          json(res, 400, { error: 'body must be JSON' });
        }
      });
      return;
    }
    requests++;
    if (delay > 0) {
      const timer = setTimeout(() => answer(req, res, path, url.searchParams), delay);
      res.on('close', () => clearTimeout(timer));
    } else {
      answer(req, res, path, url.searchParams);
    }
  });
  server.keepAliveTimeout = 5_000;
  // A line echo over `Upgrade: echo` (or `websocket`), to try tunnels through the gateway: every
  // chunk comes back prefixed with the region.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => {});
    socket.on('end', () => socket.end());
    if (!healthy || failure !== undefined) {
      socket.end(`HTTP/1.1 ${failure ?? 503} Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    const protocol = String(req.headers.upgrade ?? '').split(',')[0]!.trim();
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${protocol}\r\nconnection: upgrade\r\nx-origin-region: ${region}\r\n\r\n`);
    const echo = (chunk: Buffer): void => void socket.write(`${region}: ${chunk.toString('utf8')}`);
    if (head.length > 0) echo(head);
    socket.on('data', echo);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    region,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    hits,
    get requests() {
      return requests;
    },
    setHealthy: (value) => (healthy = value),
    setFailure: (status) => (failure = status),
    setDelay: (ms) => (delay = ms),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
