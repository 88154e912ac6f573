import { describe, expect, it } from 'vitest';
import { compileGlob, escapeGlob } from '../src/glob.js';

describe('compileGlob (Redis glob semantics)', () => {
  it.each([
    ['{GET a.com/api/*}*', '{GET a.com/api/products/1}', true],
    ['{GET a.com/api/*}*', '{GET a.com/api/products/1}vabc:accept=x', true],
    ['{GET a.com/api/*}*', '{GET b.com/api/products/1}', false],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h[ae]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-c]llo', 'hbllo', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['a.b', 'axb', false],
    ['(x)|y', '(x)|y', true],
  ])('%s matches %s: %s', (pattern, key, expected) => {
    expect(compileGlob(pattern).test(key)).toBe(expected);
  });

  it('escapes text so it matches only itself', () => {
    const text = 'GET a.com/x?[a]=*';
    expect(compileGlob(escapeGlob(text)).test(text)).toBe(true);
    expect(compileGlob(escapeGlob(text)).test('GET a.com/x?a=1')).toBe(false);
  });
});
