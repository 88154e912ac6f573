import type { Clock, ClockTimer } from './clock.js';
import { type EdgeMap, badMap } from './edge-map.js';
import { EdgeClientError, isEdgeClientError } from './errors.js';
import { type EdgeMapKey, verifyEdgeMap } from './signing.js';

/** Settings of an {@link EdgeMapSource}. */
export interface EdgeMapSourceSettings {
  url: string;
  publicKey: EdgeMapKey;
  refreshInterval: number;
  retryInterval: number;
  regionHintHeader: string;
  fetch: typeof fetch;
  clock: Clock;
  random: () => number;
  /** A verified map newer than or as new as the one in use. */
  onMap(map: EdgeMap, token: string, regionHint: string | undefined): void;
  onReject(error: EdgeClientError): void;
}

/** Fetches, verifies and refreshes the signed edge map; a refused map never replaces the last good one. */
export class EdgeMapSource {
  current: EdgeMap | undefined;
  readonly #s: EdgeMapSourceSettings;
  #timer: ClockTimer | undefined;
  #closed = false;
  readonly #abort = new AbortController();

  constructor(settings: EdgeMapSourceSettings) {
    this.#s = settings;
  }

  /** Verifies `token` and takes it into use; rejects with `EBADSIGNATURE`, `ESTALEMAP` or `EBADMAP`. */
  async accept(token: string, regionHint: string | undefined): Promise<EdgeMap> {
    const map = await verifyEdgeMap(token, this.#s.publicKey, this.#s.clock.now());
    if (this.current !== undefined && map.version < this.current.version) {
      throw new EdgeClientError('ESTALEMAP', `edge map: version ${map.version} is older than version ${this.current.version} in use`);
    }
    if (this.#closed) return map;
    this.current = map;
    this.#s.onMap(map, token, regionHint);
    return map;
  }

  /** Fetches the map now; a failure is reported through `onReject` and rethrown. */
  async refresh(): Promise<EdgeMap> {
    try {
      let response: Response;
      try {
        response = await this.#s.fetch(this.#s.url, { cache: 'no-store', signal: this.#abort.signal } as RequestInit);
      } catch (cause) {
        throw badMap(`fetch of ${this.#s.url} failed`, cause);
      }
      const body = await response.text();
      if (!response.ok) throw badMap(`${this.#s.url} answered ${response.status}`);
      return await this.accept(body, response.headers.get(this.#s.regionHintHeader) ?? undefined);
    } catch (error) {
      const coded = isEdgeClientError(error) ? error : badMap('unreadable', error);
      if (!this.#closed) this.#s.onReject(coded);
      throw coded;
    }
  }

  /** Refreshes now and then in the background until {@link close}. */
  start(): Promise<EdgeMap> {
    const first = this.refresh();
    first.then(
      () => this.#schedule(true),
      () => this.#schedule(false),
    );
    return first;
  }

  #schedule(ok: boolean): void {
    if (this.#closed) return;
    const { clock, random, refreshInterval, retryInterval } = this.#s;
    let wait = ok ? refreshInterval : retryInterval;
    // Refresh well before the map in use goes stale.
    if (this.current !== undefined) wait = Math.min(wait, Math.max(retryInterval, (this.current.expiresAt - clock.now()) / 2));
    wait *= 0.9 + 0.2 * random();
    this.#timer = clock.setTimeout(() => {
      this.refresh().then(
        () => this.#schedule(true),
        () => this.#schedule(false),
      );
    }, wait);
  }

  close(): void {
    this.#closed = true;
    this.#s.clock.clearTimeout(this.#timer);
    this.#abort.abort();
  }
}
