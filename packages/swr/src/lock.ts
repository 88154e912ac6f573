import { createHash, randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

// Takes the lock, or tells how long the current holder still has it (ms; -2 when it just vanished).
const ACQUIRE = `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -3 end
return redis.call('PTTL', KEYS[1])`;
// Compare-and-delete: a holder whose lock expired never deletes the next holder's lock.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;
// Compare-and-extend, for a holder whose fetch outlasts the lock's first lifetime.
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** The outcome of {@link RedisLock.acquire}. */
export type Acquired = { readonly token: string } | { readonly token: undefined; readonly pttl: number };

/**
 * A Redis lock per key: `SET NX PX` with a random token, released and extended only by the
 * token's owner (Lua compare-and-delete / compare-and-expire). Each script touches one key, so it
 * runs on a Cluster as on a single server.
 */
export class RedisLock {
  readonly #redis: Redis | Cluster;
  readonly #acquire = script(ACQUIRE);
  readonly #release = script(RELEASE);
  readonly #extend = script(EXTEND);

  constructor(redis: Redis | Cluster) {
    this.#redis = redis;
  }

  /** Tries to take `key` for `ttl` ms. */
  async acquire(key: string, ttl: number): Promise<Acquired> {
    const token = randomBytes(16).toString('base64url');
    const result = Number(await this.#run(this.#acquire, key, token, String(Math.ceil(ttl))));
    return result === -3 ? { token } : { token: undefined, pttl: result };
  }

  /** Deletes `key` if `token` still holds it; resolves with whether it did. */
  async release(key: string, token: string): Promise<boolean> {
    return Number(await this.#run(this.#release, key, token)) === 1;
  }

  /** Resets `key`'s expiry to `ttl` ms if `token` still holds it; resolves with whether it did. */
  async extend(key: string, token: string, ttl: number): Promise<boolean> {
    return Number(await this.#run(this.#extend, key, token, String(Math.ceil(ttl)))) === 1;
  }

  async #run(s: Script, key: string, ...args: string[]): Promise<unknown> {
    try {
      return await this.#redis.evalsha(s.sha, 1, key, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      // First use on this server (or after a restart): EVAL loads the script into its cache.
      return this.#redis.eval(s.source, 1, key, ...args);
    }
  }
}
