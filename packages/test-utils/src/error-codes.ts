import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The codes a package's sources raise with its error classes: every string literal passed as the
 * first argument of `new <Class>(...)` or of `super(...)` inside those classes' subclasses, and every
 * `code: 'E...'` literal next to them. `srcDir` is the package's `src` folder.
 */
export function raisedErrorCodes(srcDir: string, classNames: readonly string[]): string[] {
  const codes = new Set<string>();
  const constructors = new RegExp(`new (?:${classNames.join('|')})\\(\\s*'([A-Z0-9_]+)'`, 'g');
  const supers = /super\(\s*'(E[A-Z0-9_]+)'/g;
  for (const file of readdirSync(srcDir, { recursive: true }) as string[]) {
    if (!file.endsWith('.ts')) continue;
    const source = readFileSync(join(srcDir, file), 'utf8');
    for (const match of source.matchAll(constructors)) codes.add(match[1] as string);
    if (classNames.some((name) => source.includes(`extends ${name}`))) for (const match of source.matchAll(supers)) codes.add(match[1] as string);
  }
  return [...codes].sort();
}

/** The string literals of a union type alias (`export type XErrorCode = | 'A' | 'B';`) in `file`. */
export function declaredErrorCodes(file: string, typeName: string): string[] {
  const source = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const start = source.indexOf(`type ${typeName} =`);
  if (start === -1) throw new Error(`type ${typeName} not found in ${file}`);
  const body = source.slice(start, source.indexOf(';', start));
  return [...body.matchAll(/'([A-Z0-9_]+)'/g)].map((match) => match[1] as string).sort();
}
