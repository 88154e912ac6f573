import { type Clock, isRedisCluster } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import type { EdgeEntry } from './edge-entry.js';
import { RateLimitError } from './errors.js';
import { EDGE_SYNC, runScript, runScriptPipeline } from './scripts.js';

/** One key's increment in a sync round: `INCRBY` the window's counter, read it and the previous one back. */
export interface SyncOp {
  /** The entry to update with the reply; `undefined` for increments of an ended window. */
  entry: EdgeEntry | undefined;
  window: number;
  delta: number;
  /** Script arguments: current window key, previous window key, delta, ttl. */
  args: [string, string, number, number];
}

/** A sync op for `delta` of `redisBase`'s `window`. */
export function syncOp(entry: EdgeEntry | undefined, redisBase: string, window: number, delta: number, ttl: number): SyncOp {
  return { entry, window, delta, args: [`${redisBase}:${window}`, `${redisBase}:${window - 1}`, delta, ttl] };
}

/**
 * Sends one round's ops to Redis (one pipeline on a standalone client, one script call per key on
 * a Cluster, whose keys live on different nodes) and resolves with one `[error, reply]` per op, or
 * rejects with `ETIMEDOUT` after `timeout` ms.
 */
export function sendSyncRound(client: Redis | Cluster, ops: SyncOp[], timeout: number, clock: Clock, scope: string): Promise<Array<[Error | null, unknown]>> {
  const work = isRedisCluster(client)
    ? Promise.all(
        ops.map((op) =>
          runScript(client, EDGE_SYNC, op.args).then(
            (reply): [Error | null, unknown] => [null, reply],
            (error: unknown): [Error | null, unknown] => [error as Error, null],
          ),
        ),
      )
    : runScriptPipeline(client as Redis, EDGE_SYNC, ops.map((op) => op.args));
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => reject(new RateLimitError('ETIMEDOUT', `${scope}: sync of ${ops.length} keys did not finish within ${timeout} ms`)), timeout);
    work.then(
      (replies) => {
        clock.clearTimeout(timer);
        resolve(replies);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** Wraps a failure of a round as a {@link RateLimitError}. */
export function redisFailure(error: unknown, scope: string): RateLimitError {
  if (error instanceof RateLimitError) return error;
  return new RateLimitError('EREDIS', `${scope}: sync failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
