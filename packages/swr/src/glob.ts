/**
 * Redis-style glob patterns (`*`, `?`, `[abc]`, `[^a-z]`, `\x`), compiled to a RegExp so the
 * memory tiers match exactly the keys `SCAN MATCH` matches in Redis.
 */
export function compileGlob(pattern: string): RegExp {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') source += '[\\s\\S]*';
    else if (ch === '?') source += '[\\s\\S]';
    else if (ch === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('^')) {
        negate = true;
        body = body.slice(1);
      }
      let cls = '';
      for (let j = 0; j < body.length; j++) {
        const c = body[j]!;
        if (c === '\\' && j + 1 < body.length) cls += escapeClass(body[++j]!);
        else if (c === '-' && j > 0 && j + 1 < body.length) cls += '-';
        else cls += escapeClass(c);
      }
      source += `[${negate ? '^' : ''}${cls}]`;
      i = end;
    } else source += escapeRegExp(ch);
  }
  return new RegExp(`${source}$`);
}

function escapeRegExp(ch: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? `\\${ch}` : ch;
}

function escapeClass(ch: string): string {
  return /[\\\]^-]/.test(ch) ? `\\${ch}` : ch;
}

/** Escapes the glob metacharacters of `text`, so the pattern matches it literally. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
