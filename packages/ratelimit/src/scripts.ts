import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A Lua script with its SHA-1, run by EVALSHA with an EVAL fallback on NOSCRIPT. */
export interface Script {
  readonly lua: string;
  readonly sha: string;
  readonly keys: number;
}

function script(keys: number, lua: string): Script {
  return { lua, keys, sha: createHash('sha1').update(lua).digest('hex') };
}

// Every script touches only keys that share one hash tag, so each runs on one Cluster node.
// Refused requests consume nothing, in every algorithm. Token bucket and GCRA keys outlive their
// state by a second, so clocks a little apart between nodes never see a key vanish early.

/** KEYS: counter of the current window. ARGV: cost, limit, ttl (ms). Returns {allowed, count}. */
export const FIXED_WINDOW = script(
  1,
  `local cost = tonumber(ARGV[1])
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count + cost > tonumber(ARGV[2]) then return {0, count} end
count = redis.call('INCRBY', KEYS[1], cost)
if count == cost then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, count}`,
);

/** KEYS: current and previous window counters. ARGV: cost, limit, ttl, weight of the previous window. Returns {allowed, current, previous}. */
export const SLIDING_WINDOW = script(
  2,
  `local cost = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[4]) + current + cost > tonumber(ARGV[2]) + 1e-6 then return {0, current, previous} end
current = redis.call('INCRBY', KEYS[1], cost)
if current == cost then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return {1, current, previous}`,
);

/** KEYS: bucket hash. ARGV: cost, burst, refill rate (tokens/ms), now (ms). Returns {allowed, tokens as string}. */
export const TOKEN_BUCKET = script(
  1,
  `local cost = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = burst
if state[1] then
  tokens = tonumber(state[1])
  local at = tonumber(state[2])
  if now > at then tokens = math.min(burst, tokens + (now - at) * rate) else now = at end
end
if tokens + 1e-6 < cost then return {0, string.format('%.17g', tokens)} end
tokens = math.max(0, tokens - cost)
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return {1, string.format('%.17g', tokens)}`,
);

/** KEYS: theoretical arrival time. ARGV: cost, emission interval, tolerance (interval * burst), now. Returns {allowed, tat as string}. */
export const GCRA = script(
  1,
  `local cost = tonumber(ARGV[1])
local now = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nextTat = tat + cost * tonumber(ARGV[2])
if nextTat - now > tonumber(ARGV[3]) + 1e-6 then return {0, string.format('%.17g', tat)} end
redis.call('SET', KEYS[1], string.format('%.17g', nextTat), 'PX', math.ceil(nextTat - now) + 1000)
return {1, string.format('%.17g', nextTat)}`,
);

/** Edge sync. KEYS: current and previous window counters. ARGV: increment, ttl. Returns {current, previous}. */
export const EDGE_SYNC = script(
  2,
  `local current = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return {current, tonumber(redis.call('GET', KEYS[2]) or '0')}`,
);

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith('NOSCRIPT');

/** Runs `s` with EVALSHA, falling back to EVAL (which also caches it) when the node lacks it. */
export async function runScript(client: Redis | Cluster, s: Script, args: Array<string | number>): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, s.keys, ...args);
  } catch (error) {
    if (!isNoScript(error)) throw error;
    return client.eval(s.lua, s.keys, ...args);
  }
}

/** Runs `s` once per argument list in one pipeline (standalone Redis only); NOSCRIPT replies are retried with EVAL. */
export async function runScriptPipeline(client: Redis, s: Script, calls: Array<Array<string | number>>): Promise<Array<[Error | null, unknown]>> {
  const pipeline = client.pipeline();
  for (const args of calls) pipeline.evalsha(s.sha, s.keys, ...args);
  const replies = ((await pipeline.exec()) ?? []) as Array<[Error | null, unknown]>;
  if (!replies.some(([error]) => isNoScript(error))) return replies;
  return Promise.all(
    replies.map(async (reply, i): Promise<[Error | null, unknown]> => {
      if (!isNoScript(reply[0])) return reply;
      try {
        return [null, await client.eval(s.lua, s.keys, ...calls[i]!)];
      } catch (error) {
        return [error as Error, null];
      }
    }),
  );
}
