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

/** Largest prefix a Redis-backed store accepts, in characters. */
const MAX_PREFIX_LENGTH = 128;
// Printable ASCII (0x21-0x7e) except `{` and `}`.
const PREFIX_PATTERN = /^[\x21-\x7a|~]+$/;

/**
 * Checks a Redis key prefix option: 1-128 printable ASCII characters without spaces, `{` or `}`
 * (keys carry their own hash tag after the prefix; a brace in the prefix would move it). Returns
 * `fallback` when `value` is `undefined`; throws `TypeError` naming the option otherwise.
 */
export function checkRedisPrefix(scope: string, value: unknown, fallback: string, name = 'prefix'): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_PREFIX_LENGTH || !PREFIX_PATTERN.test(value)) {
    throw new TypeError(`${scope}: option "${name}" must be 1-${MAX_PREFIX_LENGTH} printable ASCII characters without spaces or braces (got ${describeValue(value)})`);
  }
  return value;
}

const TAG_ESCAPES: Record<string, string> = { '%': '%25', '{': '%7B', '}': '%7D' };

/**
 * The Redis Cluster hash tag of a logical key, braces included: `{` + body + `}`, where the body is
 * `key` with `%`, `{` and `}` percent-encoded (`%25`, `%7B`, `%7D`), and the empty key is `%`.
 *
 * Redis hashes only what lies between the first `{` of a key and the next `}`, and an empty `{}`
 * hashes the whole key. The body never contains a brace and is never empty, so:
 * - every Redis key built as `<prefix without braces><suffix>{tag}<anything>` hashes exactly the
 *   body, and all keys of one logical key (value, lock, previous window) share one slot whatever
 *   the user key holds;
 * - the encoding is one-to-one (every `%` of a body from a non-empty key starts a three-character
 *   escape, and a lone `%` is only the empty key), so two user keys never share a tag.
 */
export function redisHashTag(key: string): string {
  if (key.length === 0) return '{%}';
  return `{${key.replace(/[%{}]/g, (c) => TAG_ESCAPES[c] as string)}}`;
}

/** One node a SCAN runs on: an ioredis standalone client or a Cluster master. */
export interface RedisScanNode {
  scan(cursor: string, matchToken: 'MATCH', pattern: string, countToken: 'COUNT', count: number): Promise<[cursor: string, keys: string[]]>;
}

/**
 * The nodes a SCAN must visit to see every key: each master of a Cluster (a SCAN sent to the
 * Cluster client would visit one node only), or the standalone client itself. `N` is the caller's
 * view of one node (ioredis' `Redis`).
 */
export function redisScanTargets<N = RedisScanNode>(client: RedisClientLike): N[] {
  if (isRedisCluster(client)) return (client as unknown as { nodes(role: 'master'): N[] }).nodes('master');
  return [client as unknown as N];
}

/**
 * Runs `SCAN MATCH pattern COUNT count` on one node until the cursor returns to `0`, handing each
 * non-empty batch of keys to `onKeys` (awaited before the next SCAN, so the caller sets the pace).
 */
export async function scanRedisNode(node: RedisScanNode, pattern: string, count: number, onKeys: (keys: string[]) => void | Promise<void>): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
    cursor = next;
    if (keys.length > 0) await onKeys(keys);
  } while (cursor !== '0');
}
