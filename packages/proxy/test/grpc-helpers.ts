import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { closeServer, createTestCertificates, echoProtoPath, listen } from '@edgekit/test-utils';
import type { Forwarder } from '@edgekit/proxy';

export interface EchoMessage {
  text: string;
  count: number;
}

/** The `edgekit.test.Echo` service definition and client constructor. */
export function loadEcho(): { service: grpc.ServiceDefinition; Client: grpc.ServiceClientConstructor } {
  const definition = protoLoader.loadSync(echoProtoPath(), { keepCase: true, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { edgekit: { test: { Echo: grpc.ServiceClientConstructor } } };
  const Client = pkg.edgekit.test.Echo;
  return { service: Client.service, Client };
}

/** How a gRPC test server answers unary calls. */
export type UnaryMode = 'echo' | 'unavailable' | 'slow';

/** A real grpc-js server (h2c) that names itself in replies and in a trailer. */
export interface EchoServer {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  /** Calls received, by method name. */
  readonly calls: string[];
  /** Calls the client (through the proxy) cancelled. */
  readonly cancelled: string[];
  mode: UnaryMode;
  close(): Promise<void>;
}

export async function startEchoServer(name: string, mode: UnaryMode = 'echo'): Promise<EchoServer> {
  const { service } = loadEcho();
  const server = new grpc.Server();
  const state: EchoServer = {
    name,
    url: '',
    port: 0,
    calls: [],
    cancelled: [],
    mode,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown()),
  };
  const trailer = (): grpc.Metadata => {
    const metadata = new grpc.Metadata();
    metadata.set('x-served-region', name);
    return metadata;
  };
  server.addService(service, {
    Unary(call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) {
      state.calls.push('Unary');
      call.on('cancelled', () => state.cancelled.push('Unary'));
      if (state.mode === 'unavailable') {
        callback({ code: grpc.status.UNAVAILABLE, details: `${name} is draining` });
        return;
      }
      if (state.mode === 'slow') return;
      const seen = call.metadata.get('x-request-tag')[0];
      callback(null, { text: `${name}:${call.request.text}:${seen ?? ''}`, count: call.request.count }, trailer());
    },
    ServerStream(call: grpc.ServerWritableStream<EchoMessage, EchoMessage>) {
      state.calls.push('ServerStream');
      call.on('cancelled', () => state.cancelled.push('ServerStream'));
      for (let i = 0; i < call.request.count; i++) call.write({ text: `${name}:${call.request.text}:${i}`, count: i });
      // 'slow': the stream stays open after its messages, as a watch or a feed does.
      if (state.mode !== 'slow') call.end(trailer());
    },
    Bidi(call: grpc.ServerDuplexStream<EchoMessage, EchoMessage>) {
      state.calls.push('Bidi');
      call.on('data', (message: EchoMessage) => call.write({ text: `${name}:${message.text}`, count: message.count }));
      call.on('end', () => call.end(trailer()));
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  return Object.assign(state, { url: `http://127.0.0.1:${port}`, port });
}

/** A certificate for `localhost` and 127.0.0.1 from a throwaway test authority; `ca` is what clients trust. */
export function testCertificate(): { key: Buffer; cert: Buffer; ca: Buffer; remove(): void } {
  const authority = createTestCertificates();
  const issued = authority.issue({ commonName: 'localhost', dns: ['localhost'], ips: ['127.0.0.1'] });
  return { key: Buffer.from(issued.key), cert: Buffer.from(issued.cert), ca: Buffer.from(authority.cert), remove: () => authority.remove() };
}

/** The forwarder behind an HTTP/2 listener: h2c (prior knowledge), or TLS with HTTP/1.1 allowed. */
export async function startH2Front(
  forwarder: Forwarder,
  tls?: { key: Buffer; cert: Buffer },
): Promise<{ port: number; server: http2.Http2Server | http2.Http2SecureServer; close(): Promise<void> }> {
  const server = tls === undefined ? http2.createServer(forwarder.handler as never) : http2.createSecureServer({ ...tls, allowHTTP1: true }, forwarder.handler as never);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
  });
  const port = await listen(server as never);
  return {
    port,
    server,
    close: async () => {
      for (const session of sessions) session.destroy();
      await closeServer(server as never);
    },
  };
}

/** Calls `Unary` and resolves with the reply and the trailing metadata, or rejects with the status. */
export function unary(
  client: grpc.Client,
  request: EchoMessage,
  options: { metadata?: grpc.Metadata; deadline?: number } = {},
): Promise<{ reply: EchoMessage; trailers: grpc.Metadata }> {
  return new Promise((resolve, reject) => {
    let trailers = new grpc.Metadata();
    let reply: EchoMessage | undefined;
    const call = (client as unknown as Record<string, Function>).Unary!(
      request,
      options.metadata ?? new grpc.Metadata(),
      options.deadline === undefined ? {} : { deadline: Date.now() + options.deadline },
      (error: grpc.ServiceError | null, response: EchoMessage) => {
        if (error) reject(error);
        else reply = response;
      },
    ) as grpc.ClientUnaryCall;
    call.on('status', (status: grpc.StatusObject) => {
      trailers = status.metadata;
      if (status.code === grpc.status.OK) setImmediate(() => resolve({ reply: reply!, trailers }));
    });
  });
}
