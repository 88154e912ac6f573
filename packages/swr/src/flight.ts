import { type Bus, createRedisBus } from '@edgekit/bus';
import { type Clock, type ClockTimer, type Disposable, TypedEmitter, checkOptionsObject, checkRedisClient, checkRedisPrefix, optionalNumber, optionalString, systemClock } from '@edgekit/core';
import type { Cluster, Redis } from 'ioredis';
import { SwrError } from './errors.js';
import { RedisLock } from './lock.js';
import { SINGLE_FLIGHT_DEFAULTS, type FlightCallOptions, type SingleFlight, type SingleFlightEvents, type SingleFlightOptions, type SingleFlightStats } from './single-flight.js';
import { withTimeout } from './timeout.js';
import { Waiters } from './waiters.js';

const SCOPE = '@edgekit/swr single flight';

type Outcome = 'stored' | 'skipped' | 'failed' | 'changed';

/** The bus message of a fetch's end (or a change): key and outcome, in short fields. */
interface DoneNotice {
  k: string;
  o: Outcome;
}

const SKIPPED: unique symbol = Symbol('skipped');
// Slack after a lock's expiry before a waiter looks again (Redis expires keys lazily or within ms).
const EXPIRY_SLACK = 5;

interface LocalFlight {
  readonly promise: Promise<unknown>;
  readonly refresh: boolean;
}

class SingleFlightImpl implements SingleFlight {
  readonly #clock: Clock;
  readonly #lock: RedisLock | undefined;
  readonly #bus: Bus | undefined;
  readonly #ownedBus: Bus | undefined;
  readonly #lockTtl: number;
  readonly #waitTimeout: number;
  readonly #operationTimeout: number;
  readonly #cooldown: number;
  readonly #redis: Redis | Cluster | undefined;
  #restUntil = 0;
  readonly #lockPrefix: string;
  readonly #channel: string;
  readonly #local = new Map<string, LocalFlight>();
  readonly #waiters: Waiters;
  readonly #events = new TypedEmitter<SingleFlightEvents>();
  // One controller per running fetch: each flight's signal carries only that fetch's listeners.
  readonly #controllers = new Set<AbortController>();
  readonly #subscriptions: Disposable[] = [];
  readonly #counts: SingleFlightStats = { fetches: 0, joined: 0, waits: 0, notified: 0, rechecks: 0, fallbacks: 0, skipped: 0 };
  #closed = false;

  constructor(options: SingleFlightOptions) {
    const opts = checkOptionsObject<SingleFlightOptions>(SCOPE, options);
    this.#clock = opts.clock ?? systemClock;
    this.#waiters = new Waiters(this.#clock);
    this.#lockTtl = optionalNumber(SCOPE, 'lockTtl', opts.lockTtl, SINGLE_FLIGHT_DEFAULTS.lockTtl, { min: 10 });
    this.#waitTimeout = optionalNumber(SCOPE, 'waitTimeout', opts.waitTimeout, SINGLE_FLIGHT_DEFAULTS.waitTimeout, { min: 0 });
    this.#operationTimeout = optionalNumber(SCOPE, 'operationTimeout', opts.operationTimeout, SINGLE_FLIGHT_DEFAULTS.operationTimeout, { min: 1 });
    this.#cooldown = optionalNumber(SCOPE, 'cooldown', opts.cooldown, SINGLE_FLIGHT_DEFAULTS.cooldown, { min: 0 });
    this.#lockPrefix = `${checkRedisPrefix(SCOPE, opts.prefix, SINGLE_FLIGHT_DEFAULTS.prefix)}lock:`;
    this.#channel = optionalString(SCOPE, 'channel', opts.channel, SINGLE_FLIGHT_DEFAULTS.channel);
    if (opts.bus !== undefined && (typeof opts.bus !== 'object' || typeof opts.bus.publish !== 'function' || typeof opts.bus.subscribe !== 'function')) {
      throw new TypeError(`${SCOPE}: option "bus" must be an @edgekit/bus Bus`);
    }
    if (opts.redis === undefined) {
      if (opts.bus !== undefined) throw new TypeError(`${SCOPE}: option "bus" needs option "redis" (the lock lives in Redis)`);
      return;
    }
    const redis = checkRedisClient<Redis | Cluster>(SCOPE, opts.redis);
    this.#redis = redis;
    this.#lock = new RedisLock(redis);
    this.#bus = opts.bus ?? createRedisBus({ redis, clock: this.#clock });
    if (opts.bus === undefined) this.#ownedBus = this.#bus;
    this.#subscriptions.push(
      this.#bus.subscribe<DoneNotice>(this.#channel, (notice, meta) => this.#onNotice(notice, meta.local)),
      this.#bus.on('gap', (gap) => {
        // Notices may have been lost while the bus was down: every waiter looks again.
        if (gap.kind === 'reconnected') this.#waiters.settleAll('recheck');
        this.#events.emit('gap', { kind: gap.kind });
      }),
    );
  }

  on<K extends keyof SingleFlightEvents>(event: K, listener: (...args: SingleFlightEvents[K]) => void): Disposable {
    return this.#events.on(event, listener);
  }

  stats(): SingleFlightStats {
    return { ...this.#counts };
  }

  get connected(): boolean {
    return this.#bus !== undefined && this.#bus.connected && !this.#closed;
  }

  async notify(key: string): Promise<void> {
    if (this.#bus === undefined || this.#closed) return;
    await this.#bus.publish(this.#channel, { k: key, o: 'changed' } satisfies DoneNotice);
  }

  run<V>(key: string, fetch: (signal: AbortSignal) => Promise<V>, options: FlightCallOptions<V> = {}): Promise<V> {
    if (this.#closed) return Promise.reject(closedError(key));
    const existing = this.#local.get(key);
    if (existing !== undefined) {
      this.#counts.joined++;
      const joined = existing.refresh
        ? (existing.promise as Promise<V | typeof SKIPPED>).then((v) => (v === SKIPPED ? this.run(key, fetch, options) : v))
        : (existing.promise as Promise<V>);
      return abortable(joined, options.signal);
    }
    const lock = this.#usableLock();
    // The shared flight ignores this caller's signal: only this caller's wait is abortable.
    const shared: FlightCallOptions<V> = { ...(options.check ? { check: options.check } : {}), ...(options.stored ? { stored: options.stored } : {}) };
    const promise = lock === undefined ? this.#fetchWithoutLock(key, fetch, shared) : this.#coordinate(key, fetch, shared, lock);
    this.#track(key, promise, false);
    return abortable(promise, options.signal);
  }

  refresh<V>(key: string, fetch: (signal: AbortSignal) => Promise<V>, options: FlightCallOptions<V> = {}): Promise<V | undefined> {
    if (this.#closed) return Promise.reject(closedError(key));
    const existing = this.#local.get(key);
    if (existing !== undefined) {
      this.#counts.joined++;
      return (existing.promise as Promise<V | typeof SKIPPED>).then((v) => (v === SKIPPED ? undefined : v));
    }
    const lock = this.#usableLock();
    const promise = lock === undefined ? this.#fetchWithoutLock(key, fetch, options) : this.#tryLead(key, fetch, options, lock);
    this.#track(key, promise, true);
    return promise.then((v) => (v === SKIPPED ? undefined : v));
  }

  #track(key: string, promise: Promise<unknown>, refresh: boolean): void {
    const flight: LocalFlight = { promise, refresh };
    this.#local.set(key, flight);
    const done = (): void => {
      if (this.#local.get(key) === flight) this.#local.delete(key);
    };
    promise.then(done, done);
  }

  /** A fetch without the lock. */
  #fetch<V>(_key: string, fetch: (signal: AbortSignal) => Promise<V>): Promise<V> {
    this.#counts.fetches++;
    try {
      return this.#invoke(fetch);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Calls `fetch` with a signal of its own, aborted by `close()`. */
  async #invoke<V>(fetch: (signal: AbortSignal) => Promise<V>): Promise<V> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    try {
      return await fetch(controller.signal);
    } finally {
      this.#controllers.delete(controller);
    }
  }

  /** The lock, unless there is no Redis, its client is not connected, or it failed moments ago. */
  #usableLock(): RedisLock | undefined {
    if (this.#lock === undefined) return undefined;
    if ((this.#redis as { status?: string }).status !== 'ready' || this.#clock.now() < this.#restUntil) return undefined;
    return this.#lock;
  }

  #fetchWithoutLock<V>(key: string, fetch: (signal: AbortSignal) => Promise<V>, options: FlightCallOptions<V>): Promise<V> {
    return this.#lock === undefined ? this.#fetch(key, fetch) : this.#fallback(key, fetch, options);
  }

  /** A fetch without the lock; a stored result is still announced, so other processes drop their copies. */
  async #fallback<V>(key: string, fetch: (signal: AbortSignal) => Promise<V>, options: FlightCallOptions<V>): Promise<V> {
    this.#counts.fallbacks++;
    const value = await this.#fetch(key, fetch);
    if ((options.stored === undefined || options.stored(value)) && this.connected) {
      this.#bus!.publish(this.#channel, { k: key, o: 'stored' } satisfies DoneNotice).catch((error: unknown) => this.#report(error, 'notify', key));
    }
    return value;
  }

  async #coordinate<V>(key: string, fetch: (signal: AbortSignal) => Promise<V>, options: FlightCallOptions<V>, lock: RedisLock): Promise<V> {
    const lockKey = this.#lockPrefix + key;
    const deadline = this.#clock.now() + this.#waitTimeout;
    for (;;) {
      // Listen before trying the lock, so a notice sent between the attempt and the wait is kept.
      const waiter = this.#waiters.add(key);
      let acquired: Awaited<ReturnType<RedisLock['acquire']>>;
      try {
        acquired = await withTimeout(lock.acquire(lockKey, this.#lockTtl), this.#operationTimeout, this.#clock, 'lock acquire', key);
      } catch (error) {
        waiter.cancel();
        this.#report(error, 'acquire', key);
        return this.#fallback(key, fetch, options);
      }
      if (this.#closed) {
        waiter.cancel();
        if (acquired.token !== undefined) await this.#finish(key, lockKey, acquired.token, 'skipped');
        throw closedError(key);
      }
      if (acquired.token !== undefined) {
        waiter.cancel();
        return this.#lead(key, lockKey, acquired.token, fetch, options);
      }
      const found = await this.#check(options);
      if (found !== undefined) {
        waiter.cancel();
        return found;
      }
      const remaining = deadline - this.#clock.now();
      if (remaining <= 0) {
        waiter.cancel();
        return this.#fallback(key, fetch, options);
      }
      this.#counts.waits++;
      // Wake at the latest when the holder's lock would lapse (it died) or the wait bound is reached.
      const signal = await waiter.wait(Math.min(remaining, Math.max(acquired.pttl, 0) + EXPIRY_SLACK));
      if (signal === 'closed') throw closedError(key);
      if (signal === 'recheck' || signal === 'changed') {
        this.#counts.rechecks++;
        continue;
      }
      this.#counts.notified++;
      if (signal === 'stored') {
        const result = await this.#check(options);
        if (result !== undefined) return result;
        // Stored where this process cannot see it (or already invalidated): take the lock next.
        continue;
      }
      // The holder's fetch failed or was not storable: each process asks for itself.
      return this.#fallback(key, fetch, options);
    }
  }

  async #tryLead<V>(key: string, fetch: (signal: AbortSignal) => Promise<V>, options: FlightCallOptions<V>, lock: RedisLock): Promise<V | typeof SKIPPED> {
    const lockKey = this.#lockPrefix + key;
    let acquired: Awaited<ReturnType<RedisLock['acquire']>>;
    try {
      acquired = await withTimeout(lock.acquire(lockKey, this.#lockTtl), this.#operationTimeout, this.#clock, 'lock acquire', key);
    } catch (error) {
      this.#report(error, 'acquire', key);
      return this.#fallback(key, fetch, options);
    }
    if (acquired.token === undefined) {
      this.#counts.skipped++;
      return SKIPPED;
    }
    return this.#lead(key, lockKey, acquired.token, fetch, options);
  }

  /** Holds the lock: checks once more, fetches, then releases and tells every process. */
  async #lead<V>(key: string, lockKey: string, token: string, fetch: (signal: AbortSignal) => Promise<V>, options: FlightCallOptions<V>): Promise<V> {
    let outcome: Outcome = 'failed';
    let heartbeat: ClockTimer | undefined;
    const extend = (): void => {
      heartbeat = this.#clock.setTimeout(() => {
        withTimeout(this.#lock!.extend(lockKey, token, this.#lockTtl), this.#operationTimeout, this.#clock, 'lock extend', key).then(
          (held) => {
            if (held && outcome === 'failed' && !this.#closed) extend();
          },
          (error: unknown) => this.#report(error, 'extend', key),
        );
      }, this.#lockTtl / 3);
    };
    try {
      // A fetch that finished between this caller's read and its lock is not repeated.
      const found = await this.#check(options);
      if (found !== undefined) {
        outcome = 'stored';
        return found;
      }
      extend();
      this.#counts.fetches++;
      const value = await this.#invoke(fetch);
      outcome = options.stored === undefined || options.stored(value) ? 'stored' : 'skipped';
      return value;
    } finally {
      this.#clock.clearTimeout(heartbeat);
      await this.#finish(key, lockKey, token, outcome);
    }
  }

  /** Releases the lock (compare-and-delete), then sends the notice; failures are reported, not thrown. */
  async #finish(key: string, lockKey: string, token: string, outcome: Outcome): Promise<void> {
    try {
      await withTimeout(this.#lock!.release(lockKey, token), this.#operationTimeout, this.#clock, 'lock release', key);
    } catch (error) {
      this.#report(error, 'release', key);
    }
    if (this.#closed) return;
    try {
      await this.#bus!.publish(this.#channel, { k: key, o: outcome } satisfies DoneNotice);
    } catch (error) {
      this.#report(error, 'notify', key);
    }
  }

  async #check<V>(options: FlightCallOptions<V>): Promise<V | undefined> {
    if (options.check === undefined) return undefined;
    try {
      return await options.check();
    } catch {
      // An unreadable store is the same as nothing stored yet; the caller reports store errors.
      return undefined;
    }
  }

  #onNotice(notice: unknown, local: boolean): void {
    if (typeof notice !== 'object' || notice === null) return;
    const { k, o } = notice as DoneNotice;
    if (typeof k !== 'string' || (o !== 'stored' && o !== 'skipped' && o !== 'failed' && o !== 'changed')) return;
    if (this.#events.hasListeners('notice')) this.#events.emit('notice', { key: k, outcome: o, local });
    this.#waiters.settle(k, o);
  }

  #report(error: unknown, operation: string, key: string): void {
    this.#restUntil = this.#clock.now() + this.#cooldown;
    const wrapped =
      error instanceof SwrError
        ? error
        : new SwrError('ELOCK', `lock ${operation} failed: ${error instanceof Error ? error.message : String(error)}`, { key, operation, cause: error });
    this.#events.emit('error', wrapped);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const controller of this.#controllers) controller.abort(closedError(undefined));
    this.#controllers.clear();
    this.#waiters.settleAll('closed');
    for (const s of this.#subscriptions.splice(0)) s.dispose();
    if (this.#ownedBus) await this.#ownedBus.close();
    this.#events.removeAllListeners();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function closedError(key: string | undefined): SwrError {
  return new SwrError('ECLOSED', 'the swr instance is closed', key === undefined ? {} : { key });
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * Creates a {@link SingleFlight}: the coordination under `createSwr`, usable alone by anything that
 * stores its own results (the edge cache does).
 */
export function createSingleFlight(options: SingleFlightOptions = {}): SingleFlight {
  return new SingleFlightImpl(options);
}
