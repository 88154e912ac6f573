/** A handle that undoes a registration: call `dispose()` or use it with `using`. */
export interface Disposable {
  dispose(): void;
  [Symbol.dispose](): void;
}

/** Wraps a function as a {@link Disposable}; calling it more than once is harmless. */
export function toDisposable(fn: () => void): Disposable {
  let done = false;
  const dispose = (): void => {
    if (done) return;
    done = true;
    fn();
  };
  return { dispose, [Symbol.dispose]: dispose };
}
