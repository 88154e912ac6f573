/** Removes what it was returned for; also usable with `using`. */
export interface Disposable {
  dispose(): void;
  [Symbol.dispose](): void;
}

type AnyListener = (payload: any) => void;

/** A small typed emitter: one payload per event, free when nobody listens, throwing listeners isolated. */
export class Emitter<E extends object> {
  readonly #listeners = new Map<keyof E, AnyListener[]>();
  readonly #onListenerError: (error: unknown, event: string) => void;

  constructor(onListenerError: (error: unknown, event: string) => void) {
    this.#onListenerError = onListenerError;
  }

  on<K extends keyof E>(event: K, listener: (payload: E[K]) => void): Disposable {
    this.#listeners.set(event, [...(this.#listeners.get(event) ?? []), listener]);
    const dispose = (): void => {
      const list = this.#listeners.get(event)?.filter((l) => l !== listener) ?? [];
      if (list.length === 0) this.#listeners.delete(event);
      else this.#listeners.set(event, list);
    };
    return { dispose, [Symbol.dispose]: dispose };
  }

  emit<K extends keyof E>(event: K, payload: E[K]): void {
    const list = this.#listeners.get(event);
    if (list === undefined) return;
    for (const listener of list) {
      try {
        listener(payload);
      } catch (error) {
        this.#onListenerError(error, String(event));
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}
