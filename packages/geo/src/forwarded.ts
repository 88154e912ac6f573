const COMMA = 44;
const SEMICOLON = 59;
const EQUALS = 61;
const QUOTE = 34;
const BACKSLASH = 92;
const SPACE = 32;
const TAB = 9;
/** RFC 7230 §3.2.6 quoted-pair. */
const QUOTED_PAIR = /\\(.)/gs;

function skipSpaces(value: string, i: number): number {
  while (i < value.length) {
    const c = value.charCodeAt(i);
    if (c !== SPACE && c !== TAB) break;
    i++;
  }
  return i;
}

/** Index of the `,` that ends the current element (quotes respected), or the end of `value`. */
function skipToElementEnd(value: string, i: number): number {
  let quoted = false;
  for (; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) quoted = false;
    } else if (c === QUOTE) {
      quoted = true;
    } else if (c === COMMA) {
      return i;
    }
  }
  return value.length;
}

/** RFC 7230 tchar. */
function isTokenChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 33 ||
    (c >= 35 && c <= 39) ||
    c === 42 ||
    c === 43 ||
    c === 45 ||
    c === 46 ||
    c === 94 ||
    c === 95 ||
    c === 96 ||
    c === 124 ||
    c === 126
  );
}

function isForName(value: string, start: number, end: number): boolean {
  return end - start === 3 && (value.charCodeAt(start) | 32) === 102 && (value.charCodeAt(start + 1) | 32) === 111 && (value.charCodeAt(start + 2) | 32) === 114;
}

/**
 * Appends the `for` node of each RFC 7239 `Forwarded` element in `value` to `out`, left to right.
 * An element with a syntax error, no `for`, or more than one `for` (RFC 7239 §4) contributes `''`,
 * which the caller treats as an address it cannot believe. Empty list elements are skipped (RFC 9110
 * §5.6.1). Quoted strings may contain commas and semicolons. Never throws.
 */
export function collectForwardedFor(value: string, out: string[]): void {
  const n = value.length;
  let i = 0;
  while (i < n) {
    let forValue = '';
    let forCount = 0;
    let bad = false;
    let sawPair = false;
    for (;;) {
      i = skipSpaces(value, i);
      if (i >= n) break;
      const c = value.charCodeAt(i);
      if (c === COMMA) break;
      if (c === SEMICOLON) {
        i++;
        continue;
      }
      sawPair = true;
      const nameStart = i;
      while (i < n && isTokenChar(value.charCodeAt(i))) i++;
      const nameEnd = i;
      if (nameEnd === nameStart || i >= n || value.charCodeAt(i) !== EQUALS) {
        bad = true;
        i = skipToElementEnd(value, i);
        break;
      }
      i++;
      let pairValue: string;
      if (i < n && value.charCodeAt(i) === QUOTE) {
        i++;
        const start = i;
        let escaped = false;
        while (i < n) {
          const q = value.charCodeAt(i);
          if (q === BACKSLASH) {
            escaped = true;
            i += 2;
            continue;
          }
          if (q === QUOTE) break;
          i++;
        }
        if (i >= n) {
          // Unterminated quoted string: nothing after it can be parsed reliably.
          bad = true;
          i = n;
          break;
        }
        pairValue = escaped ? value.slice(start, i).replace(QUOTED_PAIR, '$1') : value.slice(start, i);
        i++;
      } else {
        const start = i;
        while (i < n) {
          const t = value.charCodeAt(i);
          if (t === SEMICOLON || t === COMMA || t === SPACE || t === TAB || t === QUOTE) break;
          i++;
        }
        pairValue = value.slice(start, i);
      }
      if (isForName(value, nameStart, nameEnd)) {
        forCount++;
        forValue = pairValue;
      }
      i = skipSpaces(value, i);
      if (i < n) {
        const d = value.charCodeAt(i);
        if (d === SEMICOLON) {
          i++;
          continue;
        }
        if (d !== COMMA) {
          bad = true;
          i = skipToElementEnd(value, i);
          break;
        }
      }
    }
    if (sawPair) out.push(bad || forCount !== 1 ? '' : forValue);
    i++;
  }
}
