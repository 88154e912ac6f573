import type { Clock, ClockTimer } from '@edgekit/core';

/** What ends a wait: a notice's outcome, a timed look again (`recheck`), or `close()`. */
export type Signal = 'stored' | 'skipped' | 'failed' | 'changed' | 'recheck' | 'closed';

/** A caller waiting for a notice about one key. */
export class Waiter {
  #signal: Signal | undefined;
  #resolve: ((signal: Signal) => void) | undefined;
  #timer: ClockTimer | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly remove: (waiter: Waiter) => void,
  ) {}

  settle(signal: Signal): void {
    if (this.#signal !== undefined) return;
    this.#signal = signal;
    this.clock.clearTimeout(this.#timer);
    this.remove(this);
    this.#resolve?.(signal);
  }

  /** Resolves with the first notice, or `recheck` after `ms`. A notice that came earlier is returned at once. */
  wait(ms: number): Promise<Signal> {
    if (this.#signal !== undefined) return Promise.resolve(this.#signal);
    return new Promise<Signal>((resolve) => {
      this.#resolve = resolve;
      this.#timer = this.clock.setTimeout(() => this.settle('recheck'), ms);
    });
  }

  cancel(): void {
    this.clock.clearTimeout(this.#timer);
    this.remove(this);
  }
}

/** The callers waiting for notices, by key. */
export class Waiters {
  readonly #byKey = new Map<string, Set<Waiter>>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Registers a waiter for `key`; it removes itself when settled or cancelled. */
  add(key: string): Waiter {
    let set = this.#byKey.get(key);
    if (set === undefined) {
      set = new Set();
      this.#byKey.set(key, set);
    }
    const waiter = new Waiter(this.#clock, (w) => {
      const current = this.#byKey.get(key);
      if (current === undefined) return;
      current.delete(w);
      if (current.size === 0) this.#byKey.delete(key);
    });
    set.add(waiter);
    return waiter;
  }

  /** Wakes every waiter of `key` with `signal`. */
  settle(key: string, signal: Signal): void {
    const set = this.#byKey.get(key);
    if (set === undefined) return;
    for (const waiter of [...set]) waiter.settle(signal);
  }

  /** Wakes every waiter of every key with `signal`. */
  settleAll(signal: Signal): void {
    for (const set of [...this.#byKey.values()]) for (const waiter of [...set]) waiter.settle(signal);
  }
}
