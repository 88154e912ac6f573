import { EventEmitter } from 'node:events';

/**
 * An `EventEmitter` that knows cheaply whether its hot events (`fire`, `success`) are listened to.
 */
export class HotEmitter extends EventEmitter {
  // ---------------------------------------------------------------- listener bookkeeping
  // `emit(name, ...args)` allocates its arguments even without listeners: the hot events are only
  // emitted when listened to, known from flags refreshed when listeners change.

  #hot = 0;
  #hotDirty = true;

  /** @internal Whether a hot event has listeners. */
  protected _listening(event: 'fire' | 'success' | 'failure'): boolean {
    if (this.#hotDirty) {
      this.#hot =
        (this.listenerCount('fire') > 0 ? 1 : 0) | (this.listenerCount('success') > 0 ? 2 : 0) | (this.listenerCount('failure') > 0 ? 4 : 0);
      this.#hotDirty = false;
    }
    return (this.#hot & (event === 'fire' ? 1 : event === 'success' ? 2 : 4)) !== 0;
  }

  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    this.#hotDirty = true;
    return super.on(event, listener);
  }

  override addListener(event: string | symbol, listener: (...args: any[]) => void): this {
    this.#hotDirty = true;
    return super.addListener(event, listener);
  }

  override prependListener(event: string | symbol, listener: (...args: any[]) => void): this {
    this.#hotDirty = true;
    return super.prependListener(event, listener);
  }

  override removeListener(event: string | symbol, listener: (...args: any[]) => void): this {
    this.#hotDirty = true;
    return super.removeListener(event, listener);
  }

  override off(event: string | symbol, listener: (...args: any[]) => void): this {
    this.#hotDirty = true;
    return super.off(event, listener);
  }

  override removeAllListeners(event?: string | symbol): this {
    this.#hotDirty = true;
    return event === undefined ? super.removeAllListeners() : super.removeAllListeners(event);
  }
}
