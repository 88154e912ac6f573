import { createServer } from 'node:net';
import { closeServer, listen } from '@edgekit/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListenError, createGateway, parseConfig } from '../src/index.js';
import { baseConfig, startOrigins } from './helpers.js';

describe('listening', () => {
  let origins: Awaited<ReturnType<typeof startOrigins>>;
  beforeAll(async () => {
    origins = await startOrigins();
  });
  afterAll(async () => {
    await Promise.all(Object.values(origins).map((origin) => origin.close()));
  });

  it('binds loopback unless server.host (or HOST) says otherwise', () => {
    const { regions } = baseConfig(origins);
    expect(parseConfig({ regions }, { env: {} }).server.host).toBe('127.0.0.1');
    expect(parseConfig({ regions }, { env: { HOST: '0.0.0.0' } }).server.host).toBe('0.0.0.0');
  });

  it('says which setting to change when the port is in use, in one line', async () => {
    const squatter = createServer();
    const port = await listen(squatter);
    const gateway = await createGateway(baseConfig(origins, { server: { host: '127.0.0.1', port, shutdownDelay: 0, drainTimeout: 1_000 } } as never), { env: {} });
    try {
      const error = await gateway.listen().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(ListenError);
      expect(error).toMatchObject({ code: 'EADDRINUSE', setting: 'server.port' });
      expect((error as Error).message).toBe(`edge-gateway: port ${port} on 127.0.0.1 is already in use: set server.port (or PORT) to a free port`);
    } finally {
      await gateway.close();
      await closeServer(squatter);
    }
  });
});
