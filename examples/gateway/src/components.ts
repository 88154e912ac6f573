import { ConfigError } from './config.js';

interface Slot {
  readonly key: string;
  readonly value: unknown;
  readonly close: () => Promise<void> | void;
  /** Pipelines holding the component. It is closed when the last one lets go. */
  refs: number;
}

const ids = new WeakMap<object, number>();
let nextId = 1;

/** A stable identity for an object, used in reuse keys so a component is rebuilt when a dependency was. */
export function identity(value: unknown): number {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return 0;
  let id = ids.get(value);
  if (id === undefined) {
    id = nextId++;
    ids.set(value, id);
  }
  return id;
}

/**
 * The long-lived objects of one pipeline (forwarder, cache, health checker, ...). Building the next
 * pipeline reuses every component whose configuration (and dependencies) did not change, so a reload
 * keeps breaker states, health history and cached entries; the others are built anew. A component
 * is closed when no pipeline holds it any more.
 */
export class ComponentSet {
  readonly #slots = new Map<string, Slot>();
  #previous: ComponentSet | undefined;
  #released = false;
  #commits: Array<() => void> = [];

  constructor(previous?: ComponentSet) {
    this.#previous = previous;
  }

  /**
   * The component `name`: the previous pipeline's when its `key` is the same, else `build()`.
   * A build that throws becomes a {@link ConfigError} at `configPath`.
   */
  async use<T>(name: string, key: unknown, configPath: string, build: () => T | Promise<T>, close: (value: T) => Promise<void> | void): Promise<{ value: T; reused: boolean }> {
    const keyText = JSON.stringify(key) ?? '';
    const previous = this.#previous === undefined ? undefined : this.#previous.#slots.get(name);
    if (previous && previous.key === keyText) {
      previous.refs++;
      this.#slots.set(name, previous);
      return { value: previous.value as T, reused: true };
    }
    let value: T;
    try {
      value = await build();
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError([{ path: configPath, message: (error as Error).message }]);
    }
    this.#slots.set(name, { key: keyText, value, close: () => close(value), refs: 1 });
    return { value, reused: false };
  }

  /**
   * Runs `apply` once this set is complete, only if it was not released (a failed build): changes
   * to components shared with the running pipeline wait until the new one can take over.
   */
  onCommit(apply: () => void): void {
    this.#commits.push(apply);
  }

  /** Forgets the previous pipeline's components once this set is complete (so reloads do not chain), then applies the commits. */
  seal(): void {
    this.#previous = undefined;
    const commits = this.#commits;
    this.#commits = [];
    if (this.#released) return;
    for (const apply of commits) apply();
  }

  /** Lets go of every component; those no other pipeline holds are closed (in reverse build order). */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const slots = [...this.#slots.values()].reverse();
    for (const slot of slots) {
      slot.refs--;
      if (slot.refs === 0) {
        try {
          await slot.close();
        } catch (error) {
          process.emitWarning(`closing a gateway component failed: ${(error as Error).message}`);
        }
      }
    }
  }
}
