import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthCheckError, createGrpcHealthProbe } from '@edgekit/health';
import { afterEach, describe, expect, it } from 'vitest';

const PROTO = fileURLToPath(new URL('./fixtures/health.proto', import.meta.url));
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A real grpc-js server implementing grpc.health.v1.Health with the given statuses per service. */
async function startHealthServer(statuses: Record<string, 'SERVING' | 'NOT_SERVING'>, implemented = true): Promise<{ url: string; asked: string[] }> {
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  const server = new grpc.Server();
  const asked: string[] = [];
  if (implemented) {
    server.addService(pkg.grpc.health.v1.Health.service, {
      Check(call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
        asked.push(call.request.service);
        const status = statuses[call.request.service];
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        else callback(null, { status });
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  cleanup.push(() => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return { url: `http://127.0.0.1:${port}`, asked };
}

const context = (url: string | undefined) => ({ name: 'eu', url, signal: new AbortController().signal });

describe('gRPC health checking probe (grpc.health.v1.Health/Check)', () => {
  it('passes for a SERVING server and asks about the configured service', async () => {
    const server = await startHealthServer({ '': 'SERVING', 'shop.Cart': 'SERVING' });
    await expect(createGrpcHealthProbe()(context(server.url))).resolves.toBe(true);
    await expect(createGrpcHealthProbe({ service: 'shop.Cart' })(context(server.url))).resolves.toBe(true);
    expect(server.asked).toEqual(['', 'shop.Cart']);
  });

  it('fails for NOT_SERVING, an unknown service and a server without the health service', async () => {
    const server = await startHealthServer({ '': 'NOT_SERVING' });
    const notServing = await Promise.resolve(createGrpcHealthProbe()(context(server.url))).catch((e: unknown) => e);
    expect(notServing).toBeInstanceOf(HealthCheckError);
    expect((notServing as HealthCheckError).code).toBe('EPROBEFAILED');
    expect((notServing as Error).message).toMatch(/NOT_SERVING/);
    const unknown = await Promise.resolve(createGrpcHealthProbe({ service: 'shop.Nope' })(context(server.url))).catch((e: unknown) => e);
    expect((unknown as Error).message).toMatch(/grpc-status 5/);
    const bare = await startHealthServer({}, false);
    const unimplemented = await Promise.resolve(createGrpcHealthProbe()(context(bare.url))).catch((e: unknown) => e);
    expect((unimplemented as Error).message).toMatch(/grpc-status 12/);
  });

  it('fails when the connection is refused or the probe is aborted', async () => {
    const refused = await Promise.resolve(createGrpcHealthProbe()(context('http://127.0.0.1:1'))).catch((e: unknown) => e);
    expect((refused as HealthCheckError).code).toBe('EPROBEFAILED');
    const controller = new AbortController();
    controller.abort(new Error('timeout'));
    const aborted = await Promise.resolve(createGrpcHealthProbe()({ name: 'eu', url: 'http://127.0.0.1:1', signal: controller.signal })).catch((e: unknown) => e);
    expect((aborted as Error).message).toMatch(/aborted/);
  });
});
