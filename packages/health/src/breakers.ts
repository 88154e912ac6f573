import {
  type Disposable,
  type Listener,
  checkOptionsObject,
  describeValue,
  optionalBoolean,
  optionalFunction,
  toDisposable,
} from '@edgekit/core';
import type { HealthCheckerEvents } from './health-checker.js';

const SCOPE = '@edgekit/health linkBreakers';

/** What {@link linkBreakers} needs from a breaker registry: `@edgekit/breaker`'s registry fits. */
export interface BreakerOpener {
  get(key: string): { open(): void };
}

/** What {@link linkBreakers} needs from a checker. */
export interface HealthEventSource {
  on<K extends keyof HealthCheckerEvents>(event: K, listener: Listener<HealthCheckerEvents, K>): Disposable;
}

/** Defaults of {@link linkBreakers}. */
export const LINK_BREAKERS_DEFAULTS = Object.freeze({
  openOnUnhealthy: true,
  holdOpen: false,
});

/** Options of {@link linkBreakers}. */
export interface LinkBreakersOptions {
  /** Open the target's breaker when the target turns unhealthy. Default `true`. */
  openOnUnhealthy?: boolean;
  /**
   * Also open it again after every failed probe while the target is unhealthy, so a breaker that
   * went half-open on its own timer does not send real traffic to a region whose checks still fail.
   * Default `false`.
   */
  holdOpen?: boolean;
  /** Maps a target name to its breaker key. Default: the name itself. */
  keyOf?: (name: string) => string;
}

/**
 * Opens circuit breakers from failing health checks. It never closes a breaker: a breaker opened by
 * real traffic closes only through its own half-open trials, because a health endpoint can be
 * green while the real path fails. Dispose the returned handle to unlink.
 *
 * @example
 * const link = linkBreakers(health, createBreakerRegistry(), { holdOpen: true });
 */
export function linkBreakers(checker: HealthEventSource, registry: BreakerOpener, options: LinkBreakersOptions = {}): Disposable {
  const opts = checkOptionsObject<LinkBreakersOptions>(SCOPE, options);
  if (checker === null || typeof checker !== 'object' || typeof checker.on !== 'function') {
    throw new TypeError(`${SCOPE}: checker must have on(event, listener) (got ${describeValue(checker)})`);
  }
  if (registry === null || typeof registry !== 'object' || typeof registry.get !== 'function') {
    throw new TypeError(`${SCOPE}: registry must have get(key) (got ${describeValue(registry)})`);
  }
  const openOnUnhealthy = optionalBoolean(SCOPE, 'openOnUnhealthy', opts.openOnUnhealthy, LINK_BREAKERS_DEFAULTS.openOnUnhealthy);
  const holdOpen = optionalBoolean(SCOPE, 'holdOpen', opts.holdOpen, LINK_BREAKERS_DEFAULTS.holdOpen);
  const keyOf = optionalFunction<(name: string) => string, undefined>(SCOPE, 'keyOf', opts.keyOf, undefined);
  const open = (name: string): void => registry.get(keyOf === undefined ? name : keyOf(name)).open();
  const handles: Disposable[] = [];
  if (openOnUnhealthy) {
    handles.push(
      checker.on('change', (event) => {
        if (event.state === 'unhealthy') open(event.name);
      }),
    );
  }
  if (holdOpen) {
    handles.push(
      checker.on('probe', (event) => {
        // open() on a breaker that is already open is a no-op, so the flipping probe opening it twice is harmless.
        if (!event.ok && event.state === 'unhealthy') open(event.name);
      }),
    );
  }
  return toDisposable(() => {
    for (const handle of handles) handle.dispose();
  });
}
