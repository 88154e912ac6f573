import type { Redis } from 'ioredis';

/**
 * API keys revoked over the bus, held until the key leaves the configuration. The authenticator's
 * own revocation list expires (`revokedTtl`) and starts empty when it is rebuilt; this one answers
 * `validate`, so a revoked key stays refused after that expiry, across reloads and, with Redis
 * (a set every node writes), across restarts. Loading drops the hashes no longer configured: taking
 * a key out of the configuration is what ends its revocation.
 */
export class RevokedKeys {
  readonly #hashes = new Set<string>();
  readonly #redis: Redis | undefined;
  readonly #key: string;
  readonly #log: (msg: string, error: unknown) => void;

  constructor(redis: Redis | undefined, key: string, log: (msg: string, error: unknown) => void) {
    this.#redis = redis;
    this.#key = key;
    this.#log = log;
  }

  /** Reads the shared set, keeping the configured hashes and removing the others from it. */
  async load(configured: ReadonlySet<string>): Promise<void> {
    if (this.#redis === undefined) return;
    try {
      const stored = await this.#redis.smembers(this.#key);
      const gone = stored.filter((hash) => !configured.has(hash));
      for (const hash of stored) if (configured.has(hash)) this.#hashes.add(hash);
      if (gone.length > 0) await this.#redis.srem(this.#key, ...gone);
    } catch (error) {
      // Revocations arriving over the bus still apply; the stored ones are read at the next reload.
      this.#log('revoked API keys could not be read from Redis', error);
    }
  }

  has(hash: string): boolean {
    return this.#hashes.has(hash);
  }

  add(hash: string): void {
    if (this.#hashes.has(hash)) return;
    this.#hashes.add(hash);
    this.#redis?.sadd(this.#key, hash).catch((error: unknown) => this.#log('a revoked API key could not be stored in Redis', error));
  }
}
