import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How an origin behaves: answering, hanging (accepts and never answers), or slow on `/api/slow`. */
export type OriginMode = 'up' | 'hang';

/** A regional origin: a small JSON API that counts what it served. */
export interface Origin {
  readonly region: string;
  readonly port: number;
  mode: OriginMode;
  /** Delay of `/api/slow/*` answers, in ms. */
  slowMs: number;
  /** Requests received per route family (`products`, `live`, `slow`, `health`). */
  readonly counts: Map<string, number>;
  resetCounts(): void;
  close(): Promise<void>;
}

function family(path: string): string {
  const match = /^\/api\/([a-z-]+)/.exec(path);
  if (match) return match[1]!;
  return path === '/healthz' ? 'health' : 'other';
}

/**
 * Starts an origin on 127.0.0.1. Routes:
 * - `GET /api/products/:id`: cacheable for 60 s, tagged `product:<id>`;
 * - `GET /api/live/:id`: `no-store` (every request reaches the origin);
 * - `GET /api/slow/:id`: answers after `slowMs`, `max-age=3`, then stale-while-revalidate 30 s;
 * - `GET /api/slow-plain/:id`: the same without the stale window;
 * - `GET /api/slow-live/:id`: slow and `no-store`;
 * - `GET /healthz`: health probe.
 */
export async function startOrigin(region: string): Promise<Origin> {
  const counts = new Map<string, number>();
  const hung = new Set<ServerResponse>();
  let version = 0;

  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    const kind = family(path);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
    if (origin.mode === 'hang') {
      hung.add(res);
      res.on('close', () => hung.delete(res));
      return;
    }
    const send = (cacheControl: string, extra: Record<string, string> = {}): void => {
      const body = JSON.stringify({ region, path, version: ++version, at: Date.now() });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': cacheControl, ...extra });
      res.end(body);
    };
    if (kind === 'health') return send('no-store');
    if (kind === 'products') return send('public, max-age=60', { 'surrogate-key': `product:${path.split('/')[3] ?? ''}` });
    if (kind === 'slow' || kind === 'slow-plain' || kind === 'slow-live') {
      // Fresh for 3 s: an answer that took 2 s arrives 2 s old (RFC 9111 §4.2.3), so it stays fresh for about 1 s.
      const cc = kind === 'slow' ? 'public, max-age=3, stale-while-revalidate=30' : kind === 'slow-plain' ? 'public, max-age=3' : 'no-store';
      const timer = setTimeout(() => send(cc), origin.slowMs);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    send('no-store');
  };

  const server: Server = createServer(answer);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin: Origin = {
    region,
    port: (server.address() as AddressInfo).port,
    mode: 'up',
    slowMs: 2_000,
    counts,
    resetCounts: () => counts.clear(),
    async close() {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return origin;
}
