import { type SwrEntry, isEntry } from './entry.js';
import type { EntryCodec } from './store.js';

// A positional array: short, and `undefined` survives as `null` instead of dropping the field.
/** The codec of swr's own entries: JSON of `[createdAt, freshUntil, staleUntil, errorUntil, value]`. */
export const SWR_ENTRY_CODEC: EntryCodec<SwrEntry> = Object.freeze({
  encode(entry: SwrEntry): Buffer {
    return Buffer.from(JSON.stringify([entry.createdAt, entry.freshUntil, entry.staleUntil, entry.errorUntil, entry.value]), 'utf8');
  },
  decode(bytes: Buffer): SwrEntry | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      return undefined;
    }
    if (!Array.isArray(parsed) || parsed.length !== 5) return undefined;
    const entry = { createdAt: parsed[0], freshUntil: parsed[1], staleUntil: parsed[2], errorUntil: parsed[3], value: parsed[4] };
    return isEntry(entry) ? entry : undefined;
  },
  size(): number {
    // Memory stores of swr entries are bounded by count (`max`), not bytes.
    return 1;
  },
});
