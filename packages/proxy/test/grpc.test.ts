import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { type EchoMessage, type EchoServer, loadEcho, testCertificate, startEchoServer, startH2Front, unary } from './grpc-helpers.js';

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

const { Client } = loadEcho();

async function setup(servers: EchoServer[], front: 'h2c' | 'tls' = 'h2c', extra: Parameters<typeof createForwarder>[0] = {}) {
  const locations = [
    { lat: 50.11, lon: 8.68 },
    { lat: 39.04, lon: -77.49 },
  ];
  const forwarder = createForwarder({
    regions: servers.map((s, i) => ({ name: s.name, url: s.url, location: locations[i]! })),
    http2: true,
    retryBackoff: false,
    ...extra,
  });
  const tls = front === 'tls' ? testCertificate() : undefined;
  if (tls !== undefined) cleanup.push(() => tls.remove());
  const listener = await startH2Front(forwarder, tls);
  const client =
    tls === undefined
      ? new Client(`127.0.0.1:${listener.port}`, grpc.credentials.createInsecure())
      : new Client(`localhost:${listener.port}`, grpc.credentials.createSsl(tls.ca));
  cleanup.push(async () => {
    client.close();
    await listener.close();
    await forwarder.close();
    for (const server of servers) await server.close();
  });
  return { forwarder, client, listener };
}

describe('gRPC through the forwarder (grpc-js client and server)', () => {
  for (const front of ['h2c', 'tls'] as const) {
    it(`relays a unary call with request metadata and the server's trailing metadata (${front} listener)`, async () => {
      const eu = await startEchoServer('eu');
      const { client } = await setup([eu], front);
      const metadata = new grpc.Metadata();
      metadata.set('x-request-tag', 'blue');
      const { reply, trailers } = await unary(client, { text: 'hello', count: 7 }, { metadata });
      expect(reply).toEqual({ text: 'eu:hello:blue', count: 7 });
      expect(trailers.get('x-served-region')).toEqual(['eu']);
      expect(eu.calls).toEqual(['Unary']);
    });
  }

  it('relays a server-streaming call message by message, then its trailers', async () => {
    const eu = await startEchoServer('eu');
    const { client } = await setup([eu]);
    const call = (client as unknown as Record<string, Function>).ServerStream!({ text: 'tick', count: 5 }) as grpc.ClientReadableStream<EchoMessage>;
    const messages: EchoMessage[] = [];
    call.on('data', (m: EchoMessage) => messages.push(m));
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(status.code).toBe(grpc.status.OK);
    expect(status.metadata.get('x-served-region')).toEqual(['eu']);
    expect(messages.map((m) => m.text)).toEqual(['eu:tick:0', 'eu:tick:1', 'eu:tick:2', 'eu:tick:3', 'eu:tick:4']);
  });

  it('relays a bidirectional stream: each message is answered before the client sends the next', async () => {
    const eu = await startEchoServer('eu');
    const { client } = await setup([eu]);
    const call = (client as unknown as Record<string, Function>).Bidi!() as grpc.ClientDuplexStream<EchoMessage, EchoMessage>;
    const replies: string[] = [];
    for (const text of ['a', 'b', 'c']) {
      const reply = new Promise<EchoMessage>((resolve) => call.once('data', resolve));
      call.write({ text, count: 1 });
      // Ping-pong: the next message goes only after the reply came back through the proxy.
      replies.push((await reply).text);
    }
    call.end();
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(replies).toEqual(['eu:a', 'eu:b', 'eu:c']);
    expect(status.code).toBe(grpc.status.OK);
    expect(status.metadata.get('x-served-region')).toEqual(['eu']);
  });

  it('sends a call answered UNAVAILABLE to the next region, and counts it against the first', async () => {
    const eu = await startEchoServer('eu', 'unavailable');
    const us = await startEchoServer('us');
    const failures: string[] = [];
    const { client, forwarder } = await setup([eu, us], 'h2c', {
      breakers: { get: (name: string) => ({ tryAcquire: () => ({ success() {}, failure: () => failures.push(name), release() {} }) }) },
    });
    const failovers: unknown[] = [];
    forwarder.on('failover', (event) => failovers.push(event));
    const { reply } = await unary(client, { text: 'retry-me', count: 1 });
    expect(reply.text).toBe('us:retry-me:');
    expect(eu.calls).toEqual(['Unary']);
    expect(us.calls).toEqual(['Unary']);
    expect(failures).toEqual(['eu']);
    expect(failovers).toMatchObject([{ from: 'eu', to: 'us', reason: 'status' }]);
  });

  it('sends a call answered UNAVAILABLE to another endpoint of the same region first', async () => {
    const a = await startEchoServer('a', 'unavailable');
    const b = await startEchoServer('b');
    const forwarder = createForwarder({
      regions: [{ name: 'eu', url: 'http://eu.invalid', location: { lat: 50.11, lon: 8.68 }, endpoints: [a.url, b.url], balancer: 'round-robin', outlierDetection: false } as never],
      http2: true,
      retryBackoff: false,
    });
    const listener = await startH2Front(forwarder);
    const client = new Client(`127.0.0.1:${listener.port}`, grpc.credentials.createInsecure());
    cleanup.push(async () => {
      client.close();
      await listener.close();
      await forwarder.close();
      await a.close();
      await b.close();
    });
    for (let i = 0; i < 4; i++) {
      const { reply, trailers } = await unary(client, { text: `n${i}`, count: i });
      expect(reply.text).toBe(`b:n${i}:`);
      expect(trailers.get('x-served-region')).toEqual(['b']);
    }
    expect(b.calls).toHaveLength(4);
    expect(a.calls.length).toBeGreaterThan(0);
  });

  it('relays a status other than UNAVAILABLE without retrying or counting a failure', async () => {
    const eu = await startEchoServer('eu', 'unavailable');
    const us = await startEchoServer('us');
    const outcomes: string[] = [];
    const { client } = await setup([eu, us], 'h2c', {
      grpcRetryStatuses: [],
      breakers: { get: (name: string) => ({ tryAcquire: () => ({ success: () => outcomes.push(`${name}:ok`), failure: () => outcomes.push(`${name}:fail`), release() {} }) }) },
    });
    const error = await unary(client, { text: 'x', count: 1 }).catch((e: grpc.ServiceError) => e);
    expect((error as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
    expect((error as grpc.ServiceError).details).toBe('eu is draining');
    expect(us.calls).toEqual([]);
    expect(outcomes).toEqual(['eu:fail']);
  });

  it('ends a call past its deadline with DEADLINE_EXCEEDED and cancels the upstream call', async () => {
    const eu = await startEchoServer('eu', 'slow');
    const { client } = await setup([eu], 'h2c', { requestTimeout: 60_000 });
    const error = (await unary(client, { text: 'late', count: 1 }, { deadline: 2_000 }).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(error.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await expect.poll(() => eu.cancelled, { timeout: 10_000 }).toEqual(['Unary']);
  });

  it('takes grpc-timeout as the request deadline, capped by requestTimeout, and answers it as DEADLINE_EXCEEDED', async () => {
    const eu = await startEchoServer('eu', 'slow');
    const { forwarder, listener } = await setup([eu], 'h2c', { requestTimeout: 60_000 });
    const errors: string[] = [];
    forwarder.on('error', (event) => errors.push(event.code));
    // A raw HTTP/2 client enforces no deadline of its own: the forwarder's answer is what arrives.
    const session = http2.connect(`http://127.0.0.1:${listener.port}`);
    cleanup.push(() => {
      session.destroy();
    });
    const stream = session.request({ ':method': 'POST', ':path': '/edgekit.test.Echo/Unary', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '2S' });
    stream.end(Buffer.from([0, 0, 0, 0, 0]));
    const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
    expect(headers[':status']).toBe(200);
    expect(headers['content-type']).toBe('application/grpc');
    expect(headers['grpc-status']).toBe('4');
    expect(errors).toEqual(['ETIMEDOUT']);
    await expect.poll(() => eu.cancelled, { timeout: 10_000 }).toEqual(['Unary']);
  });

  it('ends an open server stream with UNAVAILABLE trailers when the forwarder closes, and cancels the upstream call', async () => {
    const eu = await startEchoServer('eu', 'slow');
    const { client, forwarder } = await setup([eu]);
    const call = (client as unknown as Record<string, Function>).ServerStream!({ text: 'feed', count: 1 }) as grpc.ClientReadableStream<EchoMessage>;
    call.on('error', () => undefined);
    await new Promise((resolve) => call.once('data', resolve));
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    await forwarder.close();
    expect(await status).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'the proxy is shutting down' });
    await expect.poll(() => eu.cancelled, { timeout: 10_000 }).toEqual(['ServerStream']);
  });

  it('answers a forwarder-made error as a gRPC status, not problem+json', async () => {
    const eu = await startEchoServer('eu');
    const { client } = await setup([eu]);
    await eu.close();
    const error = (await unary(client, { text: 'x', count: 1 }).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    expect(error.code).toBe(grpc.status.UNAVAILABLE);
    expect(error.details).toMatch(/no region could answer/);
  });
});
