import { type Clock, type Disposable, TypedEmitter, toDisposable } from '@edgekit/core';
import type { BusEvents, BusMeta } from './types.js';

type Handler = (payload: unknown, meta: BusMeta) => void;

/** Channel bookkeeping shared by every bus implementation: local handlers and safe dispatch. */
export class LocalDispatch {
  readonly events = new TypedEmitter<BusEvents>();
  readonly #handlers = new Map<string, Set<Handler>>();

  /** Adds a handler; `onFirst`/`onLast` run when a channel gains its first or loses its last handler. */
  add(channel: string, handler: Handler, onFirst?: (channel: string) => void, onLast?: (channel: string) => void): Disposable {
    let set = this.#handlers.get(channel);
    if (!set) {
      set = new Set();
      this.#handlers.set(channel, set);
      onFirst?.(channel);
    }
    set.add(handler);
    return toDisposable(() => {
      const current = this.#handlers.get(channel);
      if (!current?.delete(handler) || current.size > 0) return;
      this.#handlers.delete(channel);
      onLast?.(channel);
    });
  }

  /** Delivers to every handler of `channel`; a handler that throws is reported and the rest still run. */
  dispatch(channel: string, payload: unknown, meta: BusMeta): void {
    const set = this.#handlers.get(channel);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        handler(payload, meta);
      } catch (error) {
        this.events.emit('error', error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  channels(): string[] {
    return [...this.#handlers.keys()];
  }

  clear(): void {
    this.#handlers.clear();
    this.events.removeAllListeners();
  }
}

/** Checks a channel name: a non-empty string without control characters, at most 256 characters. */
export function checkChannel(scope: string, channel: unknown): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject
  if (typeof channel !== 'string' || channel.length === 0 || channel.length > 256 || /[\u0000-\u001f\u007f]/.test(channel)) {
    throw new TypeError(`${scope}: channel must be a non-empty string of at most 256 printable characters (got ${JSON.stringify(String(channel)).slice(0, 80)})`);
  }
  return channel;
}

/** A random node identifier. */
export function randomNodeId(): string {
  return `node-${crypto.randomUUID().slice(0, 8)}`;
}

export type { Clock };
