import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { echoProtoPath } from '@edgekit/test-utils/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../src/index.js';
import { type TestPki, createTestPki, startGateway, tlsConfig } from './tls-world.js';

interface Message {
  text: string;
  count: number;
}

function loadEcho(): grpc.ServiceClientConstructor {
  const definition = protoLoader.loadSync(echoProtoPath(), { keepCase: true, defaults: true });
  return (grpc.loadPackageDefinition(definition) as unknown as { edgekit: { test: { Echo: grpc.ServiceClientConstructor } } }).edgekit.test.Echo;
}

/** A grpc-js server (h2c, or TLS with `credentials`) echoing unary, server-streaming and bidirectional calls, with a trailer. */
async function startGrpcServer(credentials = grpc.ServerCredentials.createInsecure()): Promise<{ url: string; calls: string[]; close(): Promise<void> }> {
  const server = new grpc.Server();
  const calls: string[] = [];
  const trailer = (): grpc.Metadata => {
    const metadata = new grpc.Metadata();
    metadata.set('x-served-by-grpc', 'origin');
    return metadata;
  };
  server.addService(loadEcho().service, {
    Unary(call: grpc.ServerUnaryCall<Message, Message>, callback: grpc.sendUnaryData<Message>) {
      calls.push('Unary');
      if (call.request.text === 'fail') {
        callback({ code: grpc.status.FAILED_PRECONDITION, details: 'refused by the origin' });
        return;
      }
      callback(null, { text: `echo:${call.request.text}`, count: call.request.count }, trailer());
    },
    ServerStream(call: grpc.ServerWritableStream<Message, Message>) {
      calls.push('ServerStream');
      for (let i = 0; i < call.request.count; i++) call.write({ text: `${call.request.text}:${i}`, count: i });
      call.end(trailer());
    },
    Bidi(call: grpc.ServerDuplexStream<Message, Message>) {
      calls.push('Bidi');
      call.on('data', (message: Message) => call.write({ text: `echo:${message.text}`, count: message.count }));
      call.on('end', () => call.end(trailer()));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))));
  return { url: `${credentials._isSecure() ? 'https://localhost' : 'http://127.0.0.1'}:${port}`, calls, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown()) };
}

function unary(client: grpc.Client, request: Message): Promise<{ reply: Message; trailers: grpc.Metadata }> {
  return new Promise((resolve, reject) => {
    let reply: Message | undefined;
    const call = (client as unknown as Record<string, Function>).Unary!(request, (error: grpc.ServiceError | null, response: Message) => {
      if (error) reject(error);
      else reply = response;
    }) as grpc.ClientUnaryCall;
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code === grpc.status.OK) setImmediate(() => resolve({ reply: reply!, trailers: status.metadata }));
    });
  });
}

/** What one describe block shares: a test PKI, a gRPC origin, the gateway on TLS in front of it and a grpc-js client trusting the test CA. */
interface GrpcWorld {
  pki: TestPki;
  origin: Awaited<ReturnType<typeof startGrpcServer>>;
  gateway: Gateway;
  client: grpc.Client;
}

/** Starts the world of a describe block: `build` makes the origin and the gateway's configuration from the PKI. */
function useGrpcWorld(build: (pki: TestPki) => Promise<{ origin: GrpcWorld['origin']; config: ReturnType<typeof tlsConfig> }>): GrpcWorld {
  const world = {} as GrpcWorld;
  beforeAll(async () => {
    world.pki = createTestPki();
    const { origin, config } = await build(world.pki);
    world.origin = origin;
    // The gRPC server answers no HTTP/1.1 health probe: its region must not be judged by one here.
    world.gateway = await startGateway({ ...config, health: { ...(config.health as object), openBreakers: false, unhealthyThreshold: 1_000 } });
    world.client = new (loadEcho())(`localhost:${new URL(world.gateway.url).port}`, grpc.credentials.createSsl(Buffer.from(world.pki.ca.cert)));
  }, 60_000);
  afterAll(async () => {
    world.client?.close();
    await world.gateway?.close();
    await world.origin?.close();
    world.pki?.remove();
  });
  return world;
}

describe('gRPC through the gateway (grpc-js client and server)', () => {
  const world = useGrpcWorld(async (pki) => {
    const origin = await startGrpcServer();
    const config = tlsConfig(origin.url, {
      server: { tls: { certificates: [{ cert: pki.server.certFile, key: pki.server.keyFile }], clientCertificates: { ca: [pki.ca.certFile] } } },
      routes: [{ path: '/edgekit.test.Echo/Bidi', clientCertificate: 'required' }],
      proxy: { http2: true },
    });
    return { origin, config };
  });
  const Echo = loadEcho();

  it('relays a unary call over TLS with its trailers', async () => {
    const { reply, trailers } = await unary(world.client, { text: 'hello', count: 3 });
    expect(reply).toEqual({ text: 'echo:hello', count: 3 });
    expect(trailers.get('x-served-by-grpc')).toEqual(['origin']);
  });

  it('relays the origin\'s gRPC status', async () => {
    await expect(unary(world.client, { text: 'fail', count: 0 })).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: 'refused by the origin' });
  });

  it('relays a server-streaming call, every message then the status', async () => {
    const call = (world.client as unknown as Record<string, Function>).ServerStream!({ text: 'tick', count: 4 }) as grpc.ClientReadableStream<Message>;
    const messages: Message[] = [];
    call.on('data', (message: Message) => messages.push(message));
    const status = await new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    expect(status.code).toBe(grpc.status.OK);
    expect(messages.map((m) => m.text)).toEqual(['tick:0', 'tick:1', 'tick:2', 'tick:3']);
  });

  it('answers a bidirectional call on an mTLS route UNAUTHENTICATED without a client certificate, and relays it with one', async () => {
    const bidi = async (c: grpc.Client): Promise<{ status: grpc.StatusObject; replies: string[] }> => {
      const call = (c as unknown as Record<string, Function>).Bidi!() as grpc.ClientDuplexStream<Message, Message>;
      const replies: string[] = [];
      call.on('data', (message: Message) => replies.push(message.text));
      call.on('error', () => {});
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      for (const text of ['a', 'b', 'c']) call.write({ text, count: 1 });
      call.end();
      return { status: await status, replies };
    };
    const refused = await bidi(world.client);
    expect(refused.status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(world.origin.calls).not.toContain('Bidi');
    const withCertificate = new Echo(`localhost:${new URL(world.gateway.url).port}`, grpc.credentials.createSsl(Buffer.from(world.pki.ca.cert), Buffer.from(world.pki.client.key), Buffer.from(world.pki.client.cert)));
    try {
      const relayed = await bidi(withCertificate);
      expect(relayed.status.code).toBe(grpc.status.OK);
      expect(relayed.replies).toEqual(['echo:a', 'echo:b', 'echo:c']);
    } finally {
      withCertificate.close();
    }
  });
});

describe('gRPC through the gateway to a TLS gRPC server (grpc-js ServerCredentials.createSsl)', () => {
  const world = useGrpcWorld(async (pki) => {
    // The origin requires a client certificate from the gateway's CA: every relayed call proves upstream mTLS over h2.
    const origin = await startGrpcServer(grpc.ServerCredentials.createSsl(Buffer.from(pki.ca.cert), [{ cert_chain: Buffer.from(pki.server.cert), private_key: Buffer.from(pki.server.key) }], true));
    const config = tlsConfig(origin.url, {
      server: { tls: { certificates: [{ cert: pki.server.certFile, key: pki.server.keyFile }] } },
      regionTls: { ca: [pki.ca.certFile], cert: pki.client.certFile, key: pki.client.keyFile },
      proxy: { http2: true },
    });
    return { origin, config };
  });

  it('relays unary, server-streaming and bidirectional calls over h2 with TLS and a client certificate, trailers included', async () => {
    const { reply, trailers } = await unary(world.client, { text: 'secure', count: 1 });
    expect(reply).toEqual({ text: 'echo:secure', count: 1 });
    expect(trailers.get('x-served-by-grpc')).toEqual(['origin']);

    const stream = (world.client as unknown as Record<string, Function>).ServerStream!({ text: 'tick', count: 3 }) as grpc.ClientReadableStream<Message>;
    const ticks: string[] = [];
    stream.on('data', (message: Message) => ticks.push(message.text));
    expect((await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve))).code).toBe(grpc.status.OK);
    expect(ticks).toEqual(['tick:0', 'tick:1', 'tick:2']);

    const bidi = (world.client as unknown as Record<string, Function>).Bidi!() as grpc.ClientDuplexStream<Message, Message>;
    const replies: string[] = [];
    bidi.on('data', (message: Message) => replies.push(message.text));
    const status = new Promise<grpc.StatusObject>((resolve) => bidi.on('status', resolve));
    for (const text of ['x', 'y']) bidi.write({ text, count: 1 });
    bidi.end();
    expect((await status).code).toBe(grpc.status.OK);
    expect(replies).toEqual(['echo:x', 'echo:y']);
    expect(world.origin.calls).toEqual(['Unary', 'ServerStream', 'Bidi']);
  });
});
