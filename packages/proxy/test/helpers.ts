import http from 'node:http';
import { type Socket, connect } from 'node:net';
import type { Region } from '@edgekit/geo';
import { closeServer, listen } from '@edgekit/test-utils';
import type { Forwarder } from '@edgekit/proxy';

/** A request an upstream received. */
export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  /** Body bytes received (the whole body for the default behaviour). */
  bytes: number;
  body: string;
}

/** How an upstream answers. */
export type Behaviour =
  | { kind: 'ok'; status?: number; headers?: Record<string, string | string[]>; delayMs?: number }
  | { kind: 'hang' }
  | { kind: 'reset' }
  | { kind: 'reset-after-body' }
  | { kind: 'custom'; handle: (req: http.IncomingMessage, res: http.ServerResponse, received: Received) => void };

/** A real HTTP server on loopback that records what it receives. */
export interface Upstream {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly received: Received[];
  /** Sockets that closed (any reason), in order of closing. */
  readonly closedSockets: number;
  behaviour: Behaviour;
  /** Stops listening and cuts every connection: later connects are refused. */
  kill(): Promise<void>;
  close(): Promise<void>;
  region(location?: { lat: number; lon: number }): Region;
}

const LOCATIONS: Record<string, { lat: number; lon: number }> = {
  eu: { lat: 50.11, lon: 8.68 },
  us: { lat: 39.04, lon: -77.49 },
  ap: { lat: 1.35, lon: 103.82 },
};

export async function startUpstream(name: string, behaviour: Behaviour = { kind: 'ok' }): Promise<Upstream> {
  const sockets = new Set<Socket>();
  let closedSockets = 0;
  const upstream = {
    name,
    port: 0,
    url: '',
    received: [] as Received[],
    get closedSockets() {
      return closedSockets;
    },
    behaviour,
    async kill() {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
    region(location = LOCATIONS[name] ?? { lat: 0, lon: 0 }): Region {
      return { name, url: upstream.url, location };
    },
  };
  const server = http.createServer((req, res) => {
    const received: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bytes: 0, body: '' };
    upstream.received.push(received);
    const current = upstream.behaviour;
    if (current.kind === 'custom') {
      current.handle(req, res, received);
      return;
    }
    if (current.kind === 'hang') return;
    if (current.kind === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      received.bytes += chunk.length;
      if (received.bytes <= 1_048_576) chunks.push(chunk);
    });
    req.on('end', () => {
      received.body = Buffer.concat(chunks).toString('latin1');
      if (current.kind === 'reset-after-body') {
        req.socket.resetAndDestroy();
        return;
      }
      const answer = (): void => {
        const body = JSON.stringify({ region: name, method: received.method, url: received.url, bytes: received.bytes });
        res.writeHead(current.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...current.headers });
        res.end(body);
      };
      if (current.delayMs !== undefined) setTimeout(answer, current.delayMs);
      else answer();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      closedSockets++;
    });
  });
  const port = await listen(server);
  Object.assign(upstream, { port, url: `http://127.0.0.1:${port}` });
  return upstream;
}

/** The front server: a Node http server running the forwarder's handler on loopback. */
export async function startFront(forwarder: Forwarder | ((req: http.IncomingMessage, res: http.ServerResponse) => void)): Promise<{ url: string; port: number; server: http.Server; close(): Promise<void> }> {
  const handler = typeof forwarder === 'function' ? forwarder : forwarder.handler;
  const server = http.createServer(handler);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, port, server, close: () => closeServer(server) };
}

/** A response read whole. */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json<T = any>(): T;
}

/** Sends one request on a fresh connection and reads the whole answer. */
export function send(
  url: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; signal?: AbortSignal } = {},
): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false, signal: options.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes `text` on a raw TCP connection and returns everything the server sends until it closes or `untilMs` passes. */
export function rawExchange(port: number, text: string | Buffer, untilMs = 5_000): Promise<string> {
  return new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(received);
    }, untilMs);
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write(text);
  });
}

export { waitFor } from '@edgekit/test-utils/node';

/** Names of the regions each recorded attempt went to, from `attempt` events. */
export function recordAttempts(forwarder: Forwarder): string[] {
  const regions: string[] = [];
  forwarder.on('attempt', (event) => regions.push(event.region));
  return regions;
}
