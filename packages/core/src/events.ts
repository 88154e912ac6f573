import { type Disposable, toDisposable } from './disposable.js';

/** Maps an event name to the tuple of arguments its listeners receive. */
export type EventMap = { [event: string]: unknown[] };

/** A listener for event `K` of map `E`. */
export type Listener<E extends EventMap, K extends keyof E> = (...args: E[K]) => void;

/** Options for {@link TypedEmitter}. */
export interface TypedEmitterOptions {
  /**
   * Called when a listener throws. Default: `process.emitWarning`, so a faulty listener is visible
   * but never breaks the primitive that emitted the event.
   */
  onListenerError?: (error: unknown, event: string) => void;
}

type AnyListener = (...args: any[]) => void;

const defaultListenerError = (error: unknown, event: string): void => {
  const err = error instanceof Error ? error : new Error(String(error));
  process.emitWarning(err, { code: 'EDGEKIT_LISTENER_ERROR', detail: `listener for "${event}" threw` });
};

/**
 * A small typed event emitter. Emitting with no listeners costs one map lookup; a listener that
 * throws is reported through `onListenerError` and the remaining listeners still run.
 */
export class TypedEmitter<E extends EventMap> {
  // Listeners are stored untyped; `on` and `emit` keep the pairing of event and arguments typed.
  readonly #listeners = new Map<keyof E, AnyListener[]>();
  readonly #onListenerError: (error: unknown, event: string) => void;

  constructor(options: TypedEmitterOptions = {}) {
    this.#onListenerError = options.onListenerError ?? defaultListenerError;
  }

  /** Adds a listener and returns a {@link Disposable} that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E, K>): Disposable {
    const list = this.#listeners.get(event);
    // Copy on write, so a listener that unsubscribes during emit does not skip its neighbour.
    this.#listeners.set(event, list ? [...list, listener as AnyListener] : [listener as AnyListener]);
    return toDisposable(() => this.off(event, listener));
  }

  /** Adds a listener that is removed after its first call. */
  once<K extends keyof E>(event: K, listener: Listener<E, K>): Disposable {
    const wrapped = (...args: E[K]): void => {
      handle.dispose();
      listener(...args);
    };
    const handle = this.on(event, wrapped);
    return handle;
  }

  /** Removes a listener added with {@link TypedEmitter.on}. */
  off<K extends keyof E>(event: K, listener: Listener<E, K>): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    const index = list.indexOf(listener as AnyListener);
    if (index === -1) return;
    const next = list.filter((_, i) => i !== index);
    if (next.length === 0) this.#listeners.delete(event);
    else this.#listeners.set(event, next);
  }

  /** True when at least one listener is registered for `event`; use it to skip building event payloads. */
  hasListeners<K extends keyof E>(event: K): boolean {
    return this.#listeners.has(event);
  }

  /** Calls every listener of `event` with `args`; returns whether any listener was called. */
  emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const list = this.#listeners.get(event);
    if (!list) return false;
    for (const listener of list) {
      try {
        listener(...args);
      } catch (error) {
        this.#onListenerError(error, String(event));
      }
    }
    return true;
  }

  /** Removes every listener. */
  removeAllListeners(): void {
    this.#listeners.clear();
  }
}
