import http from 'node:http';
import { closeServer, listen } from '@edgekit/test-utils';
import type { Region } from '@edgekit/geo';
import type { Registry } from 'prom-client';
import { waitFor as waitUntil } from '@edgekit/test-utils/node';

/** A request an upstream received. */
export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** A real HTTP server on loopback that records the requests it receives. */
export interface Upstream {
  readonly name: string;
  readonly url: string;
  readonly received: Received[];
  /** `ok`: 200 JSON; `reset`: destroys the connection; `hang`: never answers; a number: answers that status. */
  behaviour: 'ok' | 'reset' | 'hang' | number;
  close(): Promise<void>;
  region(location?: { lat: number; lon: number }): Region;
}

const LOCATIONS: Record<string, { lat: number; lon: number }> = {
  'eu-west': { lat: 50.11, lon: 8.68 },
  'us-east': { lat: 39.04, lon: -77.49 },
  'ap-south': { lat: 1.35, lon: 103.82 },
};

export async function startUpstream(name: string, behaviour: Upstream['behaviour'] = 'ok'): Promise<Upstream> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const current = upstream.behaviour;
    if (current === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (current === 'hang') return;
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ region: name });
      res.writeHead(current === 'ok' ? 200 : current, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'max-age=60' });
      res.end(body);
    });
  });
  const port = await listen(server);
  const url = `http://127.0.0.1:${port}`;
  const upstream: Upstream = {
    name,
    url,
    received,
    behaviour,
    close: () => closeServer(server),
    region: (location = LOCATIONS[name] ?? { lat: 0, lon: 0 }) => ({ name, url, location }),
  };
  return upstream;
}

/** A front server on loopback running `handler`. */
export async function startFront(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer(handler);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

/** A response read whole. */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Sends a request and destroys it once `until` holds: a client that goes away. */
export async function abandon(url: string, until: () => boolean): Promise<void> {
  const req = http.request(url, { agent: false });
  req.on('error', () => undefined);
  req.end();
  await waitFor(until, 5_000, 'the upstream to receive the request');
  req.destroy();
}

/** Sends one request on a fresh connection and reads the whole answer. */
export function send(url: string, options: { method?: string; headers?: http.OutgoingHttpHeaders } = {}): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `waitFor` of `@edgekit/test-utils` with this suite's default timeout (5 s). */
export const waitFor = (condition: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> => waitUntil(condition, timeoutMs, what);

/** The sample lines of one metric in Prometheus text format (no HELP/TYPE lines). */
export function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

/** The registry's text once it contains `needle` (a response's `close` may follow the client's read by a tick). */
export async function metricsContaining(registry: Registry, needle: string, timeoutMs = 5_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await registry.metrics();
    if (text.includes(needle)) return text;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${needle} in:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
