import type { Clock, ClockTimer } from './clock.js';
import type { Edge } from './edge-map.js';
import type { ClientEnvironment } from './options.js';

/** Settings of a {@link Prober}. */
export interface ProberSettings {
  interval: number;
  jitter: number;
  clock: Clock;
  random: () => number;
  environment: ClientEnvironment;
  edges(): Edge[];
  /** Measures one edge (`inRound`: as part of a round of all edges); never rejects. */
  probe(edge: Edge, inRound?: boolean): Promise<void>;
  skipped(edge: Edge, why: 'hidden' | 'saveData'): void;
}

/**
 * Paces probes: one edge per tick, ticks spread so each edge is probed about once per `interval`,
 * each pause jittered; nothing is sent while the page is hidden or the user saves data.
 */
export class Prober {
  readonly #s: ProberSettings;
  #timer: ClockTimer | undefined;
  #next = 0;
  #closed = false;
  #round: Promise<void> | undefined;

  constructor(settings: ProberSettings) {
    this.#s = settings;
  }

  /** Why probing is paused now, if it is. */
  paused(): 'hidden' | 'saveData' | undefined {
    if (this.#s.environment.saveData()) return 'saveData';
    if (this.#s.environment.hidden()) return 'hidden';
    return undefined;
  }

  /** Probes every edge once, concurrently (unless paused); a call during a round joins it. */
  probeAll(): Promise<void> {
    if (this.#round !== undefined) return this.#round;
    const edges = this.#s.edges();
    const pause = this.paused();
    if (pause !== undefined) {
      for (const edge of edges) this.#s.skipped(edge, pause);
      return Promise.resolve();
    }
    const round = Promise.all(edges.map((edge) => this.#s.probe(edge, true))).then(() => {
      this.#round = undefined;
    });
    this.#round = round;
    return round;
  }

  start(): void {
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    const { clock, random, interval, jitter } = this.#s;
    const count = Math.max(1, this.#s.edges().length);
    const wait = (interval / count) * (1 - jitter + 2 * jitter * random());
    this.#timer = clock.setTimeout(() => void this.#tick(), wait);
  }

  async #tick(): Promise<void> {
    const edges = this.#s.edges();
    const edge = edges[this.#next++ % Math.max(1, edges.length)];
    if (edge !== undefined) {
      const pause = this.paused();
      if (pause === undefined) await this.#s.probe(edge);
      else this.#s.skipped(edge, pause);
    }
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    this.#s.clock.clearTimeout(this.#timer);
  }
}
