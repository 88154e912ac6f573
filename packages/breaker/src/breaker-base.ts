import { type Clock, type Disposable, TypedEmitter } from '@edgekit/core';
import { HotEmitter } from './emitter.js';
import type { ResolvedBreakerOptions } from './options.js';
import { BreakerStateMachine, CLOSED, HALF_OPEN, OPEN, SHUTDOWN, STATE_NAMES, type StateCode } from './state-machine.js';
import type { BreakerSnapshot, BreakerState, BreakerStateChange } from './snapshot.js';
import type { Stats, Status } from './status.js';
import { strategyOf } from './strategies.js';

/**
 * What a breaker is, before any call goes through it: the state machine with its transitions and
 * their events, opossum's controls (`open`, `close`, `disable`, `shutdown`, ...) and getters, and
 * the snapshot. {@link BreakerCore} adds the call path on top.
 */
export abstract class BreakerBase<TI extends unknown[] = unknown[]> extends HotEmitter {
  /** @internal */ protected readonly _options: ResolvedBreakerOptions<TI>;
  /** @internal */ protected readonly _clock: Clock;
  /** @internal */ protected readonly _name: string;
  /** @internal */ protected readonly _status: Status;
  /** @internal */ protected readonly _machine: BreakerStateMachine;
  /** @internal */ protected _enabled: boolean;
  /** @internal */ protected _inFlight = 0;
  /** @internal */ protected _abortController: AbortController | undefined;
  readonly #group: string;
  #openedAt: number | undefined = undefined;
  #transitions: TypedEmitter<{ change: [BreakerStateChange] }> | undefined = undefined;

  constructor(name: string, options: ResolvedBreakerOptions<TI>, status: Status) {
    super();
    this._options = options;
    this._clock = options.clock;
    this._name = name;
    this.#group = options.group ?? name;
    this._status = status;
    this._enabled = options.enabled;
    this._abortController = options.abortController ?? (options.autoRenewAbortController ? new AbortController() : undefined);
    this._machine = new BreakerStateMachine(options.clock, options.resetTimeout, options.halfOpenMaxCalls, strategyOf(options)(status), {
      opened: (from) => this.#opened(from),
      closed: (from) => this.#closed(from),
      halfOpened: (from) => this.#halfOpened(from),
    });
  }

  // ---------------------------------------------------------------- transitions

  #opened(from: StateCode): void {
    this.#openedAt = this._clock.now();
    if (!this._machine.detached) this._status.markOpen(true);
    this.#notify(from, OPEN);
    this.emit('open');
  }

  #closed(from: StateCode): void {
    this.#renewAbortController();
    if (!this._machine.detached) this._status.markOpen(false);
    this.#notify(from, CLOSED);
    this.emit('close');
  }

  #halfOpened(from: StateCode): void {
    this.#renewAbortController();
    this.#notify(from, HALF_OPEN);
    this.emit('halfOpen', this._options.resetTimeout);
  }

  #notify(from: StateCode, to: StateCode): void {
    if (from === SHUTDOWN || to === SHUTDOWN || from === to) return;
    this.#transitions?.emit('change', { from: STATE_NAMES[from], to: STATE_NAMES[to] });
  }

  #renewAbortController(): void {
    if (this._options.autoRenewAbortController && this._abortController?.signal.aborted === true) {
      this._abortController = new AbortController();
    }
  }

  // ---------------------------------------------------------------- state (opossum's methods and getters)

  /** Opens the breaker now; it goes half-open after `resetTimeout`. No-op when already open. */
  open(): void {
    this._machine.open();
  }

  /** Closes the breaker now, letting every call through. No-op when already closed. */
  close(): void {
    this._machine.close();
  }

  /**
   * Takes a hint that this breaker's target is failing elsewhere (another node opened its own
   * breaker for it): for `ttlMs`, `failures` local failures in a row open it. Only local failures
   * ever open it; a local success ends the hint. See `shareBreakerHints`.
   */
  hint(ttlMs: number, failures = 1): void {
    this._machine.hint(this._clock.now() + ttlMs, failures);
  }

  /** Stops protecting: calls go straight to the action (no timeout, stats only count fires). */
  disable(): void {
    this._enabled = false;
    this._status.detachController();
  }

  /** Protects calls again after {@link BreakerBase.disable}. */
  enable(): void {
    this._enabled = true;
    this._status.attachController();
  }

  /**
   * Stops the breaker: emits `shutdown`, removes every listener, clears its timers; later calls
   * reject with `ESHUTDOWN`. Calls in flight still settle (and time out), uncounted, as in opossum.
   */
  shutdown(): void {
    this.emit('shutdown');
    this.disable();
    this.removeAllListeners();
    this._machine.shutdown();
    this._status.shutdown();
    this.#transitions?.removeAllListeners();
  }

  /** Same as {@link BreakerBase.shutdown}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.shutdown();
  }

  /** Calls `listener` after every change between closed, open and half-open; returns a handle that unsubscribes. */
  onStateChange(listener: (change: BreakerStateChange) => void): Disposable {
    this.#transitions ??= new TypedEmitter();
    return this.#transitions.on('change', listener);
  }

  get name(): string {
    return this._name;
  }

  get group(): string {
    return this.#group;
  }

  /** `'closed'`, `'open'`, `'halfOpen'` or `'shutdown'`. */
  get state(): BreakerState | 'shutdown' {
    return STATE_NAMES[this._machine.state];
  }

  get closed(): boolean {
    return this._machine.state === CLOSED;
  }

  get opened(): boolean {
    return this._machine.state === OPEN;
  }

  get halfOpen(): boolean {
    return this._machine.state === HALF_OPEN;
  }

  /** Half-open with a probe slot still free: the next call goes through. */
  get pendingClose(): boolean {
    return this._machine.probesLeft > 0;
  }

  get isShutdown(): boolean {
    return this._machine.state === SHUTDOWN;
  }

  get enabled(): boolean {
    return this._enabled;
  }

  /** True during the `allowWarmUp` period, when failures do not open the breaker. */
  get warmUp(): boolean {
    return this._machine.warmUp;
  }

  get volumeThreshold(): number {
    return this._options.volumeThreshold;
  }

  /** The rolling window; listen to its `snapshot` event for periodic stats. */
  get status(): Status {
    return this._status;
  }

  /** Totals over the rolling window (opossum's shape). */
  get stats(): Stats {
    return this._status.stats;
  }

  /** opossum's shared `abortController` signal, if one is configured. */
  getSignal(): AbortSignal | undefined {
    return this._abortController?.signal;
  }

  /** opossum's shared `abortController`, if one is configured (renewed by `autoRenewAbortController`). */
  getAbortController(): AbortController | undefined {
    return this._abortController;
  }

  /** A compact view for dashboards and the registry (no latency sorting). */
  snapshot(): BreakerSnapshot {
    const status = this._status;
    const fires = status.sum('fires');
    const failures = status.sum('failures');
    const state = this._machine.state;
    return {
      name: this._name,
      state: STATE_NAMES[state],
      enabled: this._enabled,
      stats: {
        fires,
        successes: status.sum('successes'),
        failures,
        rejects: status.sum('rejects'),
        timeouts: status.sum('timeouts'),
        fallbacks: status.sum('fallbacks'),
        semaphoreRejections: status.sum('semaphoreRejections'),
        errorRate: fires > 0 ? (failures / fires) * 100 : 0,
      },
      inFlight: this._inFlight,
      openedAt: this.#openedAt,
      nextAttemptAt: state === OPEN && this.#openedAt !== undefined ? this.#openedAt + this._options.resetTimeout : undefined,
    };
  }
}
