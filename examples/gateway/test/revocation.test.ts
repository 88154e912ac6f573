import { createApiKeyAuth } from '@edgekit/auth';
import { createRedisBus } from '@edgekit/bus';
import { describeRedis, useRedisServer } from '@edgekit/test-utils';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Gateway, type GatewayConfigInput, createGateway } from '../src/index.js';
import type { DemoOrigin } from '../src/origin.js';
import { baseConfig, startOrigins, waitFor } from './helpers.js';

const KEY_A = 'tenant-a-key-0123456789';
const KEY_B = 'tenant-b-key-0123456789';
const KEY_C = 'tenant-c-key-0123456789';

describeRedis('API-key revocations over the bus', () => {
  const redis = useRedisServer();
  let origins: Record<'us' | 'eu' | 'ap', DemoOrigin>;
  const gateways: Gateway[] = [];
  const closers: Array<() => Promise<void>> = [];

  const config = (keys: string[]): GatewayConfigInput =>
    baseConfig(origins, {
      auth: { apiKeys: { keys: keys.map((key, i) => ({ key, subject: `tenant-${i}` })) } },
      routes: [{ path: '/api/keyed', auth: 'apiKey' }],
    });
  const start = async (keys: string[]): Promise<string> => {
    const gateway = await createGateway(config(keys), { env: { REDIS_URL: redis.current.url }, logger: () => {} });
    gateways.push(gateway);
    const url = await gateway.listen();
    await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 10_000, 'ready');
    return url;
  };
  const status = async (url: string, key: string): Promise<number> => (await fetch(`${url}/api/keyed`, { headers: { 'x-api-key': key } })).status;

  beforeAll(async () => {
    origins = await startOrigins();
  });
  afterAll(async () => {
    for (const close of closers) await close();
    for (const gateway of gateways) await gateway.close();
    await Promise.all(Object.values(origins ?? {}).map((origin) => origin.close()));
  });

  it('keeps a revoked key refused across reloads and restarts until it leaves the configuration', async () => {
    const url = await start([KEY_A, KEY_B]);
    expect(await status(url, KEY_A)).toBe(200);
    // An identity service on the same bus revokes tenant A's key.
    const client = new Redis(redis.current.url);
    const bus = createRedisBus({ redis: client, prefix: 'edgekit:bus:' });
    const revoker = createApiKeyAuth({ validate: () => null, bus });
    closers.push(async () => {
      await revoker.close();
      await bus.close();
      client.disconnect();
    });
    await waitFor(() => bus.connected, 5_000, 'revoker bus connected');
    await revoker.revoke(KEY_A);
    await waitFor(async () => (await status(url, KEY_A)) === 401, 5_000, 'revocation applied');
    expect(await status(url, KEY_B)).toBe(200);

    // A reload that rebuilds the authenticator (a key added) does not forget the revocation.
    await gateways[0]!.reload(config([KEY_A, KEY_B, KEY_C]));
    expect(await status(url, KEY_A)).toBe(401);
    expect(await status(url, KEY_C)).toBe(200);

    // Nor does a node that starts later.
    const other = await start([KEY_A, KEY_B]);
    expect(await status(other, KEY_A)).toBe(401);
    expect(await status(other, KEY_B)).toBe(200);

    // Taking the key out of the configuration ends the revocation: added again, it works.
    await gateways[0]!.reload(config([KEY_B]));
    expect(await status(url, KEY_A)).toBe(401);
    await gateways[0]!.reload(config([KEY_A, KEY_B]));
    expect(await status(url, KEY_A)).toBe(200);
  }, 40_000);
});
