import { EventEmitter } from 'node:events';

/** Bits of {@link HotEmitter._hot}: which hot events have listeners. */
export const HOT_FIRE = 1;
export const HOT_SUCCESS = 2;
export const HOT_FAILURE = 4;
/** Set for good by {@link HotEmitter._pinHot}: a call's latency is wanted whoever listens. */
export const HOT_LATENCY = 8;
export const HOT_TIMEOUT = 16;

/**
 * An `EventEmitter` that knows cheaply whether its hot events (`fire`, `success`, `failure`,
 * `timeout`) are listened to.
 */
export class HotEmitter extends EventEmitter {
  // ---------------------------------------------------------------- listener bookkeeping
  // `emit(name, ...args)` allocates its arguments even without listeners: the hot events are only
  // emitted when listened to, known from one bit field refreshed whenever listeners change (`once`
  // and `prependOnceListener` add, and their wrappers remove, through the methods below).

  /** @internal One `HOT_*` bit per hot event that has listeners, and pinned bits. */
  protected _hot = 0;
  #pinned = 0;

  /** @internal Sets `bits` in {@link HotEmitter._hot} whatever the listeners. */
  protected _pinHot(bits: number): void {
    this.#pinned |= bits;
    this.#refresh();
  }

  #refresh(): void {
    this._hot =
      this.#pinned |
      (this.listenerCount('fire') > 0 ? HOT_FIRE : 0) |
      (this.listenerCount('success') > 0 ? HOT_SUCCESS : 0) |
      (this.listenerCount('failure') > 0 ? HOT_FAILURE : 0) |
      (this.listenerCount('timeout') > 0 ? HOT_TIMEOUT : 0);
  }

  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    super.on(event, listener);
    this.#refresh();
    return this;
  }

  override addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    super.addListener(event, listener);
    this.#refresh();
    return this;
  }

  override prependListener(event: string | symbol, listener: (...args: any[]) => void): this {
    super.prependListener(event, listener);
    this.#refresh();
    return this;
  }

  override removeListener(event: string | symbol, listener: (...args: any[]) => void): this {
    super.removeListener(event, listener);
    this.#refresh();
    return this;
  }

  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    super.off(event, listener);
    this.#refresh();
    return this;
  }

  override removeAllListeners(event?: string | symbol): this {
    if (event === undefined) super.removeAllListeners();
    else super.removeAllListeners(event);
    this.#refresh();
    return this;
  }
}
