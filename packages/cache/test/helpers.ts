import { type IncomingHttpHeaders, type IncomingMessage, type Server, createServer } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { closeServer, listen } from '@edgekit/test-utils';
import { request } from 'undici';
import type { EdgeCache, Origin, OriginResponse } from '../src/index.js';

/** What the test origin answers. */
export interface Reply {
  status?: number;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer | Readable;
}

/** A request the origin received. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A plain origin function with the forwarder's shape, recording what it was asked. */
export function testOrigin(answer: (req: SeenRequest, call: number) => Reply | Promise<Reply>): { origin: Origin; calls: SeenRequest[] } {
  const calls: SeenRequest[] = [];
  const origin: Origin = async (req: IncomingMessage): Promise<OriginResponse> => {
    const seen = { method: req.method ?? 'GET', url: req.url ?? '/', headers: { ...req.headers } };
    calls.push(seen);
    const reply = await answer(seen, calls.length);
    const body = reply.body instanceof Readable ? reply.body : Readable.from(reply.body === undefined ? [] : [Buffer.from(reply.body)]);
    return { statusCode: reply.status ?? 200, headers: reply.headers ?? {}, body, region: 'test' };
  };
  return { origin, calls };
}

/** A real HTTP server on loopback running `cache.handler(origin)`. */
export async function startGateway(cache: EdgeCache, origin: Origin): Promise<{ base: string; server: Server; close(): Promise<void> }> {
  const server = createServer(cache.handler(origin));
  const port = await listen(server);
  return { base: `http://127.0.0.1:${port}`, server, close: () => closeServer(server) };
}

/** A client response with its body as text. */
export interface ClientResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export async function get(base: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<ClientResponse> {
  const response = await request(`${base}${path}`, { method: method as 'GET', headers });
  const body = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body };
}

/** Sends raw bytes as a request (for bytes no client library would send) and returns the raw response head and body. */
export function rawRequest(base: string, bytes: Buffer): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.write(bytes);
  });
}

/** Polls `check` until it holds (real I/O waits only). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** 2025-01-01T00:00:00Z: manual clocks start on a whole second so Age arithmetic is exact. */
export const EPOCH = Date.UTC(2025, 0, 1);

export function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}
