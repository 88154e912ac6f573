import { afterEach } from 'vitest';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

const cleanups: Array<() => Promise<unknown> | unknown> = [];

/** Registers a cleanup that runs after the current test, last registered first. */
export function onCleanup(cleanup: () => Promise<unknown> | unknown): void {
  cleanups.push(cleanup);
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A standalone client closed after the test. */
export function redisClient(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, ...options });
  redis.on('error', () => {});
  onCleanup(() => redis.disconnect());
  return redis;
}

/** A Cluster client closed after the test. */
export function clusterClient(nodes: Array<{ host: string; port: number }>): Cluster {
  const cluster = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } });
  cluster.on('error', () => {});
  onCleanup(() => cluster.disconnect());
  return cluster;
}

/** Waits until the client reports `ready`. */
export async function ready(client: Redis | Cluster): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client not ready (status ${client.status})`)), 10_000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export { waitFor } from '@edgekit/test-utils/node';

/** Keys no sane client sends: braces that would break a hash tag, empty, control characters, huge. */
export const HOSTILE_KEYS = ['', '}', '{', '{}', '}{', 'a}b', '%7D', '%', '{user}:1', '\r\nFLUSHALL\r\n', '__proto__', 'ключ🔑', 'x'.repeat(100_000)];
