/** Breaker state of one edge. */
export type BreakerState = 'closed' | 'open' | 'halfOpen';

/**
 * The breaker and `Retry-After` state of one edge: `failureThreshold` failures in a row open it;
 * after `resetTimeout` it is half-open and one trial (a probe or a request) decides.
 */
export class EdgeHealth {
  state: BreakerState = 'closed';
  failures = 0;
  /** Unix milliseconds the open breaker half-opens at. */
  openUntil = 0;
  /** Unix milliseconds before which the edge asked not to be called (`Retry-After`). */
  coolingUntil = 0;
  #trial = false;

  /** Moves an open breaker whose time has come to half-open; returns true when that happened. */
  tick(now: number): boolean {
    if (this.state === 'open' && now >= this.openUntil) {
      this.state = 'halfOpen';
      this.#trial = false;
      return true;
    }
    return false;
  }

  /** Whether a request may go here now, without taking the half-open trial. */
  usable(now: number): boolean {
    return now >= this.coolingUntil && (this.state === 'closed' || (this.state === 'halfOpen' && !this.#trial));
  }

  /** Takes the right to send: always when closed, once when half-open. */
  acquire(now: number): boolean {
    if (!this.usable(now)) return false;
    if (this.state === 'halfOpen') this.#trial = true;
    return true;
  }

  /** Milliseconds until the edge may be tried again (`0`: now). */
  waitFor(now: number): number {
    return Math.max(0, this.coolingUntil - now, this.state === 'open' ? this.openUntil - now : 0);
  }

  /** Records a success; returns the new state when it changed. */
  success(): BreakerState | undefined {
    this.failures = 0;
    this.#trial = false;
    if (this.state === 'closed') return undefined;
    this.state = 'closed';
    return this.state;
  }

  /** Records a failure; returns the new state when it changed. */
  failure(now: number, threshold: number, resetTimeout: number): BreakerState | undefined {
    this.failures++;
    this.#trial = false;
    if (this.state === 'open' || (this.state === 'closed' && this.failures < threshold)) return undefined;
    this.state = 'open';
    this.openUntil = now + resetTimeout;
    return this.state;
  }
}

/** Milliseconds a `Retry-After` value asks for (RFC 9110 §10.2.3: seconds or an HTTP date), or `undefined`. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
