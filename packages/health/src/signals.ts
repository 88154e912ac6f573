import { type Disposable, checkOptionsObject, describeValue, optionalBoolean, optionalFunction, toDisposable } from '@edgekit/core';
import type { ShutdownResult } from './lifecycle.js';

const SCOPE = '@edgekit/health installSignalHandlers';

/** Where signals come from: `process`, or an `EventEmitter` in tests. */
export interface SignalSource {
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** Defaults of {@link installSignalHandlers}. */
export const SIGNAL_DEFAULTS = Object.freeze({
  signals: Object.freeze(['SIGTERM', 'SIGINT']) as readonly string[],
  forceOnRepeat: true,
});

/** Options of {@link installSignalHandlers}. */
export interface SignalHandlerOptions {
  /** Signals that start the shutdown. Default `['SIGTERM', 'SIGINT']`. */
  signals?: readonly string[];
  /** Ends the process once shutdown settles: code 0 after a shutdown, 1 when it failed. Default `process.exit`. */
  exit?: (code: number) => void;
  /** A second signal during the shutdown exits at once with code 1 (a second Ctrl-C). Default `true`. */
  forceOnRepeat?: boolean;
  /** Told when the shutdown rejects, before `exit(1)`. Default: `console.error`. */
  onError?: (error: unknown) => void;
  /** Where to listen. Default `process`. */
  source?: SignalSource;
}

/**
 * Runs `lifecycle.shutdown()` on SIGTERM or SIGINT and then exits. Opt-in: importing this package
 * never installs a handler. Dispose the returned handle to remove the handlers.
 *
 * @example
 * installSignalHandlers(lifecycle);
 */
export function installSignalHandlers(lifecycle: { shutdown(): Promise<ShutdownResult | void> }, options: SignalHandlerOptions = {}): Disposable {
  const opts = checkOptionsObject<SignalHandlerOptions>(SCOPE, options);
  if (lifecycle === null || typeof lifecycle !== 'object' || typeof lifecycle.shutdown !== 'function') {
    throw new TypeError(`${SCOPE}: lifecycle must have shutdown() (got ${describeValue(lifecycle)})`);
  }
  const signals = opts.signals ?? SIGNAL_DEFAULTS.signals;
  if (!Array.isArray(signals) || signals.length === 0 || signals.some((signal) => typeof signal !== 'string' || signal.length === 0)) {
    throw new TypeError(`${SCOPE}: option "signals" must be a non-empty array of signal names (got ${describeValue(signals)})`);
  }
  const exit = optionalFunction<(code: number) => void, (code: number) => void>(SCOPE, 'exit', opts.exit, (code) => process.exit(code));
  const onError = optionalFunction<(error: unknown) => void, (error: unknown) => void>(SCOPE, 'onError', opts.onError, (error) => {
    console.error('graceful shutdown failed', error);
  });
  const forceOnRepeat = optionalBoolean(SCOPE, 'forceOnRepeat', opts.forceOnRepeat, SIGNAL_DEFAULTS.forceOnRepeat);
  const source = opts.source ?? process;
  if (source === null || typeof source !== 'object' || typeof source.on !== 'function' || typeof source.off !== 'function') {
    throw new TypeError(`${SCOPE}: option "source" must have on() and off() (got ${describeValue(source)})`);
  }
  let shuttingDown = false;
  const onSignal = (): void => {
    if (shuttingDown) {
      if (forceOnRepeat) exit(1);
      return;
    }
    shuttingDown = true;
    let shutdown: Promise<unknown>;
    try {
      shutdown = Promise.resolve(lifecycle.shutdown());
    } catch (error) {
      shutdown = Promise.reject(error);
    }
    shutdown.then(
      () => exit(0),
      (error: unknown) => {
        onError(error);
        exit(1);
      },
    );
  };
  for (const signal of signals) source.on(signal, onSignal);
  return toDisposable(() => {
    for (const signal of signals) source.off(signal, onSignal);
  });
}
