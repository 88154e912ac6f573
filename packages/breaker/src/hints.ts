import { type Disposable, checkOptionsObject, describeValue, optionalNumber, optionalString } from '@edgekit/core';
import type { BreakerState } from './snapshot.js';

/** What {@link shareBreakerHints} needs from a bus: `@edgekit/bus`'s `Bus` fits. */
export interface HintBus {
  publish(channel: string, payload: unknown): Promise<void>;
  subscribe(channel: string, handler: (payload: unknown, meta: { readonly local: boolean; readonly origin: string }) => void): Disposable;
}

/** What {@link shareBreakerHints} needs from a registry: `createBreakerRegistry()`'s result fits. */
export interface HintedRegistry {
  has(key: string): boolean;
  get(key: string): { hint(ttlMs: number, failures?: number): void };
  onStateChange(listener: (change: { key: string; from: BreakerState; to: BreakerState }) => void): Disposable;
}

/** Options of {@link shareBreakerHints}. Durations are milliseconds. */
export interface BreakerHintsOptions {
  /** The bus between nodes. */
  bus: HintBus;
  /** Channel of the hints. Default `'edgekit:breaker-hints'`. */
  channel?: string;
  /** Least time between two hints this node sends for one key: the message rate bound. Default `5000`. */
  minInterval?: number;
  /** How long a received hint shortens local detection. Default `30000`. */
  hintTtl?: number;
  /** Local failures in a row that open a hinted breaker. Default `1`. */
  hintFailures?: number;
  /** Time source for the rate bound. Default `Date.now`. */
  now?: () => number;
}

/** Defaults of {@link BreakerHintsOptions}. */
export const HINT_DEFAULTS = Object.freeze({ channel: 'edgekit:breaker-hints', minInterval: 5000, hintTtl: 30_000, hintFailures: 1 });

const SCOPE = '@edgekit/breaker hints';

/**
 * Shares breaker openings between gateway nodes as hints, never as locks: when a breaker of
 * `registry` opens, this node publishes its key (at most once per `minInterval` per key); a node
 * that receives it makes its own breaker for that key quicker to open (`hintFailures` local
 * failures within `hintTtl`). Nothing opens without local failures, so a node cut off from the
 * bus, or one whose path to the target still works, decides alone. Returns a disposable.
 *
 * @example
 * const hints = shareBreakerHints(breakers, { bus: createRedisBus({ redis }) });
 */
export function shareBreakerHints(registry: HintedRegistry, options: BreakerHintsOptions): Disposable {
  const o = checkOptionsObject<BreakerHintsOptions>(SCOPE, options);
  const bus = o.bus;
  if (!bus || typeof bus.publish !== 'function' || typeof bus.subscribe !== 'function') {
    throw new TypeError(`${SCOPE}: option "bus" must have publish() and subscribe() (got ${describeValue(bus)})`);
  }
  const channel = optionalString(SCOPE, 'channel', o.channel, HINT_DEFAULTS.channel);
  const minInterval = optionalNumber(SCOPE, 'minInterval', o.minInterval, HINT_DEFAULTS.minInterval, { min: 0 });
  const hintTtl = optionalNumber(SCOPE, 'hintTtl', o.hintTtl, HINT_DEFAULTS.hintTtl, { min: 0 });
  const hintFailures = optionalNumber(SCOPE, 'hintFailures', o.hintFailures, HINT_DEFAULTS.hintFailures, { min: 1, integer: true });
  const now = o.now ?? Date.now;
  const lastSent = new Map<string, number>();

  const changes = registry.onStateChange(({ key, to }) => {
    if (to !== 'open') return;
    const at = now();
    const last = lastSent.get(key);
    if (last !== undefined && at - last < minInterval) return;
    lastSent.set(key, at);
    // A lost hint costs only speed: detection stays local.
    bus.publish(channel, { key, state: 'open' }).catch(() => {});
  });
  const subscription = bus.subscribe(channel, (payload, meta) => {
    if (meta.local) return;
    const key = (payload as { key?: unknown } | null)?.key;
    if (typeof key !== 'string' || !registry.has(key)) return;
    registry.get(key).hint(hintTtl, hintFailures);
  });
  const dispose = (): void => {
    changes.dispose();
    subscription.dispose();
    lastSent.clear();
  };
  return { dispose, [Symbol.dispose]: dispose };
}
