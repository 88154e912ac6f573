import type { SwrEntry } from '../src/index.js';

/** Distinct swr entries for the store conformance suite: nested JSON, odd strings, nulls. */
export function sample(n: number): SwrEntry {
  return { value: { n, text: `naïve \r\n {${n}}`, list: [1, null, 'x'], nested: { ok: n % 2 === 0 } }, createdAt: 1_000 + n, freshUntil: 2_000 + n, staleUntil: 3_000 + n, errorUntil: 4_000 + n };
}
