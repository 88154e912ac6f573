import type { Clock, ClockTimer } from '@edgekit/core';

/**
 * A progress deadline on one side of a client connection, as nginx's `client_body_timeout` and
 * `send_timeout` or Envoy's stream idle timeout: while the proxy waits on the client (for request
 * body bytes, or for it to take response bytes), the client must make progress within `timeout`
 * milliseconds, and, with `minRate`, average at least that many bytes per second (Apache
 * mod_reqtimeout's rule: `timeout` plus one second per `minRate` bytes received). Time spent not
 * waiting on the client (the upstream applying backpressure) does not count.
 *
 * One lazily re-armed timer per watch: progress only moves the deadline later, so a chunk costs a
 * clock read and no timer operation.
 */
export class ProgressWatch {
  readonly #clock: Clock;
  readonly #timeout: number;
  readonly #msPerByte: number;
  readonly #onExpire: () => void;
  readonly #fire = (): void => this.#check();
  #timer: ClockTimer | undefined = undefined;
  #waiting = false;
  #stopped = false;
  /** Clock time the current wait began. */
  #waitStartedAt = 0;
  /** Milliseconds waited in earlier waits. */
  #waited = 0;
  #lastProgressAt = 0;
  #bytes = 0;

  constructor(clock: Clock, timeout: number, minRate: number, onExpire: () => void) {
    this.#clock = clock;
    this.#timeout = timeout;
    this.#msPerByte = minRate > 0 ? 1000 / minRate : 0;
    this.#onExpire = onExpire;
  }

  /** Whether the watch can ever expire (a `timeout` of 0 disables it). */
  static enabled(timeout: number): boolean {
    return timeout > 0;
  }

  /** The proxy starts waiting on the client. */
  wait(): void {
    if (this.#waiting || this.#stopped) return;
    this.#waiting = true;
    const now = this.#clock.now();
    this.#waitStartedAt = now;
    this.#lastProgressAt = now;
    if (this.#timer === undefined) this.#arm(this.#deadline() - now);
  }

  /** The client delivered (or took) `bytes`. */
  progress(bytes: number): void {
    this.#bytes += bytes;
    if (this.#waiting) this.#lastProgressAt = this.#clock.now();
  }

  /** The proxy stops waiting on the client for now (backpressure from the other side). */
  hold(): void {
    if (!this.#waiting) return;
    this.#waiting = false;
    this.#waited += this.#clock.now() - this.#waitStartedAt;
  }

  /** Done: the watch never fires. */
  stop(): void {
    this.#stopped = true;
    this.#waiting = false;
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  #deadline(): number {
    const idle = this.#lastProgressAt + this.#timeout;
    if (this.#msPerByte === 0) return idle;
    const rate = this.#waitStartedAt + this.#timeout + this.#bytes * this.#msPerByte - this.#waited;
    return rate < idle ? rate : idle;
  }

  #arm(ms: number): void {
    this.#timer = this.#clock.setTimeout(this.#fire, ms > 1 ? ms : 1);
  }

  #check(): void {
    this.#timer = undefined;
    if (!this.#waiting || this.#stopped) return;
    const left = this.#deadline() - this.#clock.now();
    if (left > 0) {
      this.#arm(left);
      return;
    }
    this.stop();
    this.#onExpire();
  }
}
