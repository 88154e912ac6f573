import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { type LatencyProxy, closeServer, listen, startLatencyProxy } from '@edgekit/test-utils/node';

/** How a stand-in edge answers requests other than probes. */
export type EdgeMode = 'ok' | 'fail503' | 'destroy' | 'hang';

/** A real HTTP server standing in for a gateway edge: answers with its name and records requests. */
export interface TestEdge {
  readonly name: string;
  readonly url: string;
  readonly requests: { method: string; path: string; body: string }[];
  mode: EdgeMode;
  /** `Retry-After` sent with 503 answers, if any. */
  retryAfter: string | undefined;
  /** Milliseconds before answering (non-probe requests). */
  delay: number;
  /** Stops accepting connections (as a dead edge); `start()` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startEdge(name: string): Promise<TestEdge> {
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      edge.requests.push({ method: req.method ?? 'GET', path, body });
      // Browser pages on another origin read the answers too.
      res.setHeader('access-control-allow-origin', '*');
      if (path === '/health') {
        res.end('ok');
        return;
      }
      const answer = (): void => {
        if (edge.mode === 'destroy') req.socket.destroy();
        else if (edge.mode === 'hang') return;
        else if (edge.mode === 'fail503') {
          res.writeHead(503, edge.retryAfter === undefined ? {} : { 'retry-after': edge.retryAfter }).end('unavailable');
        } else res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
      };
      if (edge.delay > 0) setTimeout(answer, edge.delay);
      else answer();
    });
  };
  let server: Server = createServer(handler);
  const port = await listen(server);
  const edge: TestEdge = {
    name,
    url: `http://127.0.0.1:${port}`,
    requests: [],
    mode: 'ok',
    retryAfter: undefined,
    delay: 0,
    async stop() {
      await closeServer(server);
    },
    async start() {
      server = createServer(handler);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      });
    },
    async close() {
      await closeServer(server);
    },
  };
  return edge;
}

/** An edge behind a latency proxy: `proxy.url` is what the client sees. */
export interface DistantEdge {
  edge: TestEdge;
  proxy: LatencyProxy;
}

export async function startDistantEdge(name: string, oneWayMs: number): Promise<DistantEdge> {
  const edge = await startEdge(name);
  const proxy = await startLatencyProxy({ name, oneWayMs, target: { host: '127.0.0.1', port: Number(new URL(edge.url).port) } });
  return { edge, proxy };
}

/** Counts non-probe requests an edge received. */
export const served = (edge: TestEdge): number => edge.requests.filter((r) => r.path !== '/health').length;

/** Probe requests an edge received. */
export const probes = (edge: TestEdge): number => edge.requests.filter((r) => r.path === '/health').length;

/** Real time plus an offset the test moves forward: real round trips, but breaker resets without waiting. */
export function createShiftableClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    setTimeout: (callback: () => void, ms: number): object => {
      const timer = setTimeout(callback, ms);
      timer.unref();
      return timer;
    },
    clearTimeout: (timer: object | undefined): void => clearTimeout(timer as NodeJS.Timeout),
    shift(ms: number): void {
      offset += ms;
    },
  };
}
