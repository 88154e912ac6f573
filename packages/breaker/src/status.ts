import { EventEmitter } from 'node:events';
import { type Clock, checkOptionsObject, optionalBoolean, optionalNumber, systemClock } from '@edgekit/core';
import { type Bucket, type BucketCounter, COUNTERS, PERCENTILES, Slot, type Stats, emptyBucket, percentile } from './bucket.js';

/** Options of {@link Status} (and of `CircuitBreaker.newStatus`). */
export interface StatusOptions {
  /** Length of the rolling window in milliseconds. Default `10000`. */
  rollingCountTimeout?: number | undefined;
  /** Number of slices of the window. Default `10`. */
  rollingCountBuckets?: number | undefined;
  /** Keep latency samples and compute percentiles. Default `true`. */
  rollingPercentilesEnabled?: boolean | undefined;
  /** Emit `snapshot` once per slice while someone listens. Default `true`. */
  enableSnapshots?: boolean | undefined;
  /** An emitter whose `rotate` events advance the window instead of the clock. */
  rotateBucketController?: EventEmitter | undefined;
  /** Counters to start from (for example `toJSON().status` of an earlier breaker). */
  stats?: Partial<Stats> | undefined;
  /** Most latency samples kept per slice; beyond it a uniform random sample is kept. Default `1000`. */
  latencySampleSize?: number | undefined;
  /** Time source for slicing the window. Default `systemClock`. */
  clock?: Clock | undefined;
}

/** Defaults of {@link StatusOptions}. */
export const STATUS_DEFAULTS = Object.freeze({
  rollingCountTimeout: 10_000,
  rollingCountBuckets: 10,
  rollingPercentilesEnabled: true,
  enableSnapshots: true,
  latencySampleSize: 1000,
});

const SCOPE = '@edgekit/breaker Status';


/**
 * The rolling statistical window of a breaker (opossum's `Status`): `rollingCountBuckets` slices of
 * `rollingCountTimeout / rollingCountBuckets` ms each. The window advances on a clock timer that
 * stops while the window is empty, so an idle breaker schedules nothing. Emits `snapshot` with
 * {@link Status.stats} once per slice while someone listens.
 */
export class Status extends EventEmitter {
  /** @internal The newest slice as of the last {@link Status.at}; the breaker increments it in place. */
  bucket: Slot;

  readonly #slots: Slot[];
  #head = 0;
  readonly #bucketMs: number;
  readonly #clock: Clock;
  readonly #percentilesEnabled: boolean;
  readonly #enableSnapshots: boolean;
  readonly #sampleSize: number;
  readonly #controller: EventEmitter | undefined;
  #controllerAttached = false;
  #timer: unknown = undefined;
  // Reservoir sampling per slice (Li's algorithm L): calls to skip before the next sampled one,
  // calls sampled so far, and the running weight. Unsampled calls never read the clock.
  #skip = 1;
  #sampled = 0;
  #weight = 0;
  #shutdown = false;
  // Slices are aligned on the construction time, as opossum's interval is: slice k covers
  // [origin + k·bucketMs, origin + (k+1)·bucketMs). `#rotations` is the current k.
  #origin = 0;
  #rotations = 0;
  #interval: NodeJS.Timeout | undefined = undefined;
  /** @internal True when an interval timer keeps the newest slice current: `at()` needs no time. */
  timerDriven = false;
  /** When the current slice ends; never, for a window driven by `rotateBucketController` or shut down. */
  #nextBoundary = Number.POSITIVE_INFINITY;

  constructor(options: StatusOptions = {}) {
    super();
    const opts = checkOptionsObject<StatusOptions>(SCOPE, options);
    // opossum's rules: 0 (or no value) means the default; a slice shorter than 1 ms ticks every 1 ms, as Node's timers do.
    const windowMs = optionalNumber(SCOPE, 'rollingCountTimeout', opts.rollingCountTimeout, 0) || STATUS_DEFAULTS.rollingCountTimeout;
    const buckets =
      optionalNumber(SCOPE, 'rollingCountBuckets', opts.rollingCountBuckets, 0, { min: 0, integer: true }) || STATUS_DEFAULTS.rollingCountBuckets;
    this.#bucketMs = Math.max(1, Math.floor(windowMs / buckets));
    this.#percentilesEnabled = optionalBoolean(SCOPE, 'rollingPercentilesEnabled', opts.rollingPercentilesEnabled, true);
    this.#enableSnapshots = optionalBoolean(SCOPE, 'enableSnapshots', opts.enableSnapshots, true);
    this.#sampleSize = optionalNumber(SCOPE, 'latencySampleSize', opts.latencySampleSize, STATUS_DEFAULTS.latencySampleSize, {
      min: 1,
      integer: true,
    });
    this.#clock = opts.clock ?? systemClock;
    this.#origin = this.#clock.now();
    const controller = opts.rotateBucketController;
    if (controller !== undefined && (typeof controller !== 'object' || controller === null || typeof controller.on !== 'function')) {
      throw new TypeError(`${SCOPE}: option "rotateBucketController" must be an EventEmitter`);
    }
    this.#controller = controller;
    this.#slots = Array.from({ length: buckets }, () => new Slot());
    this.bucket = this.#slots[0] as Slot;
    if (opts.stats !== undefined) this.#seed(opts.stats);
    if (controller !== undefined) {
      this.attachController();
      // opossum's snapshot interval runs from construction whatever drives the window.
      if (this.#clock === systemClock && this.#enableSnapshots) {
        this.#interval = setInterval(this.#snapshotTick, this.#bucketMs);
        this.#interval.unref();
      }
    } else if (this.#clock === systemClock) {
      // opossum's own design, with its timing: an interval from construction advances the window,
      // so recording a call needs no clock read. (An injected clock advances it lazily instead.)
      this.timerDriven = true;
      this.#interval = setInterval(this.#onInterval, this.#bucketMs);
      this.#interval.unref();
    } else {
      this.#nextBoundary = this.#origin + this.#bucketMs;
    }
  }

  /** Totals over the window, with latency percentiles and mean (opossum's `stats`). */
  get stats(): Stats {
    this.at(this.#clock.now());
    const totals = emptyBucket() as Stats;
    let latencies: number[] = [];
    for (const slot of this.#slots) {
      for (const counter of COUNTERS) totals[counter] += slot[counter];
      if (this.#percentilesEnabled && slot.latencyTimes.length > 0) latencies = latencies.concat(slot.latencyTimes);
    }
    if (this.#percentilesEnabled) {
      latencies.sort((a, b) => a - b);
      totals.latencyTimes = latencies;
      let sum = 0;
      for (const latency of latencies) sum += latency;
      totals.latencyMean = latencies.length > 0 ? sum / latencies.length : 0;
      for (const p of PERCENTILES) totals.percentiles[p] = percentile(p, latencies);
    } else {
      totals.latencyMean = -1;
      for (const p of PERCENTILES) totals.percentiles[p] = -1;
    }
    return totals;
  }

  /** Copies of the slices, newest first. */
  get window(): Bucket[] {
    this.at(this.#clock.now());
    const out: Bucket[] = [];
    const n = this.#slots.length;
    for (let i = 0; i < n; i++) out.push((this.#slots[(this.#head + i) % n] as Slot).toBucket());
    return out;
  }

  /** Length of one slice in milliseconds. */
  get bucketInterval(): number {
    return this.#bucketMs;
  }

  /** Sum of one counter over the window, without building {@link Status.stats}. */
  sum(counter: BucketCounter): number {
    this.at(this.#clock.now());
    let total = 0;
    for (const slot of this.#slots) total += slot[counter];
    return total;
  }

  /**
   * @internal Whether the call starting now is part of the newest slice's latency sample. Every
   * call is while the slice holds fewer than `latencySampleSize` samples; after that a uniform
   * random subset is (Li's algorithm L), so under load only a few calls read the clock.
   */
  shouldTime(): boolean {
    // Sampled even without percentiles: opossum's buckets keep every latency (only `stats` omits them).
    if (--this.#skip > 0) return false;
    if (++this.#sampled < this.#sampleSize) {
      this.#skip = 1;
      return true;
    }
    this.#skipAhead();
    return true;
  }

  #skipAhead(): void {
    const size = this.#sampleSize;
    this.#weight = (this.#weight === 0 ? 1 : this.#weight) * Math.exp(Math.log(1 - Math.random()) / size);
    this.#skip = Math.floor(Math.log(1 - Math.random()) / Math.log(1 - this.#weight)) + 1;
  }

  /** @internal Stores the latency of a sampled call: appended while the slice has room, else over a random sample. */
  recordLatency(ms: number): void {
    const samples = this.bucket.latencyTimes;
    if (samples.length < this.#sampleSize) samples.push(ms);
    else samples[Math.floor(Math.random() * this.#sampleSize)] = ms;
  }

  /** @internal Marks the newest slice with the breaker's state change. */
  markOpen(open: boolean): void {
    this.at(this.#clock.now()).isCircuitBreakerOpen = open;
  }

  /**
   * @internal The newest slice at clock time `now`, after the rotations due by then. The window
   * is aligned on its construction time, as opossum's interval is, and advances lazily: an idle
   * breaker runs no timer, and a slice boundary is passed before anything at that time is counted.
   */
  at(now: number): Slot {
    if (now >= this.#nextBoundary) this.#catchUp(now);
    return this.bucket;
  }

  #catchUp(now: number): void {
    const due = Math.floor((now - this.#origin) / this.#bucketMs);
    const missed = due - this.#rotations;
    this.#rotations = due;
    this.#nextBoundary = this.#origin + (due + 1) * this.#bucketMs;
    const n = this.#slots.length;
    for (let i = 0; i < Math.min(missed, n); i++) this.rotate();
  }

  readonly #onInterval = (): void => {
    this.rotate();
    this.#snapshot();
  };

  #armSnapshots(): void {
    if (this.#interval !== undefined) return;
    if (this.#timer !== undefined || this.#shutdown || !this.#wantsSnapshots()) return;
    const now = this.#clock.now();
    this.#timer = this.#clock.setTimeout(this.#tick, this.#nextBoundaryAfter(now) - now);
  }

  #nextBoundaryAfter(now: number): number {
    return this.#origin + (Math.floor((now - this.#origin) / this.#bucketMs) + 1) * this.#bucketMs;
  }

  /** Advances the window by one slice: the oldest slice is dropped and an empty one becomes the newest. */
  rotate(): void {
    const n = this.#slots.length;
    this.#head = (this.#head + n - 1) % n;
    const slot = this.#slots[this.#head] as Slot;
    slot.reset();
    this.bucket = slot;
    this.#skip = 1;
    this.#sampled = 0;
    this.#weight = 0;
  }

  /** @internal Listens to `rotateBucketController` again (after `enable()`). */
  attachController(): void {
    if (this.#controller === undefined || this.#controllerAttached || this.#shutdown) return;
    this.#controllerAttached = true;
    this.#controller.on('rotate', this.#onRotate);
  }

  /** @internal Stops listening to `rotateBucketController` (while the breaker is disabled). */
  detachController(): void {
    if (this.#controller === undefined || !this.#controllerAttached) return;
    this.#controllerAttached = false;
    this.#controller.removeListener('rotate', this.#onRotate);
  }

  /** Stops the rotation timer and removes every listener. */
  shutdown(): void {
    this.#shutdown = true;
    this.#clock.clearTimeout(this.#timer as never);
    this.#timer = undefined;
    this.#nextBoundary = Number.POSITIVE_INFINITY;
    clearInterval(this.#interval);
    this.#interval = undefined;
    this.detachController();
    this.removeAllListeners();
  }

  // A `snapshot` listener needs the timer running even while the window is empty.
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    if (event === 'snapshot') this.#armSnapshots();
    return this;
  }

  override addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    return this.on(event, listener);
  }

  override prependListener(event: string | symbol, listener: (...args: any[]) => void): this {
    super.prependListener(event, listener);
    if (event === 'snapshot') this.#armSnapshots();
    return this;
  }

  #wantsSnapshots(): boolean {
    return this.#enableSnapshots && this.listenerCount('snapshot') > 0;
  }

  #snapshot(): void {
    if (this.#wantsSnapshots()) this.emit('snapshot', this.stats);
  }

  // As opossum's: a `rotate` event advances the window; snapshots keep to their own interval.
  readonly #onRotate = (): void => {
    this.rotate();
  };

  readonly #snapshotTick = (): void => {
    this.#snapshot();
  };

  // Snapshots only: the window itself advances in at().
  readonly #tick = (): void => {
    this.#timer = undefined;
    if (this.#shutdown) return;
    this.at(this.#clock.now());
    this.#snapshot();
    this.#armSnapshots();
  };

  #seed(stats: Partial<Stats>): void {
    if (typeof stats !== 'object' || stats === null) {
      throw new TypeError(`${SCOPE}: option "stats" must be an object of counters`);
    }
    const slot = this.bucket;
    for (const counter of COUNTERS) {
      const value = stats[counter];
      if (typeof value === 'number' && Number.isFinite(value) && value >= 0) slot[counter] = value;
    }
    if (Array.isArray(stats.latencyTimes)) {
      slot.latencyTimes = stats.latencyTimes.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    }
    // opossum's first slice is `{ ...bucket(), ...stats }`: the restored percentiles and mean show in `window` too.
    let extras: Record<string, unknown> | undefined;
    for (const key of Object.keys(stats)) {
      if (SEEDED.has(key) || key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
      (extras ??= {})[key] = (stats as Record<string, unknown>)[key];
    }
    slot.extras = extras;
  }
}

const SEEDED: ReadonlySet<string> = new Set<string>([...COUNTERS, 'latencyTimes', 'isCircuitBreakerOpen']);

export type { Bucket, BucketCounter, Stats } from './bucket.js';
