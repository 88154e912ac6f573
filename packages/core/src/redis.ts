import { describeValue } from './options.js';

/**
 * An ioredis 5 client, standalone `Redis` or `Cluster`, described by the members edgekit checks.
 * Options take this instead of ioredis' own classes so that edgekit's type declarations never
 * import `ioredis`, an optional peer that memory-only users do not install. Every ioredis client
 * satisfies it; packages use the full client at run time.
 */
export interface RedisClientLike {
  /** Connection state, such as `'ready'` or `'end'`. */
  readonly status: string;
  /** `true` for an ioredis `Cluster`. */
  readonly isCluster: boolean;
  get(key: string): Promise<string | null>;
  evalsha(sha: string, numKeys: number, ...args: Array<string | number | Buffer>): Promise<unknown>;
  publish(channel: string, message: string): Promise<number>;
  quit(): Promise<unknown>;
}

/** True when `client` is an ioredis `Cluster`. */
export function isRedisCluster(client: RedisClientLike): boolean {
  return client.isCluster === true;
}

/**
 * Checks a `redis` option: an object with the methods every ioredis client has (`get`, `evalsha`,
 * `publish`). Throws `TypeError` naming the option otherwise. Returns the client, typed as `T`
 * (the package's view of an ioredis client).
 */
export function checkRedisClient<T = RedisClientLike>(scope: string, value: unknown, name = 'redis'): T {
  const client = value as Partial<Record<'get' | 'evalsha' | 'publish', unknown>> | null;
  if (client === null || typeof client !== 'object' || typeof client.get !== 'function' || typeof client.evalsha !== 'function' || typeof client.publish !== 'function') {
    throw new TypeError(`${scope}: option "${name}" must be an ioredis Redis or Cluster client (got ${describeValue(value)})`);
  }
  return value as T;
}
