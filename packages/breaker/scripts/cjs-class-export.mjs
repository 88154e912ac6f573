// After tsup: make the CommonJS entry opossum-shaped. `require('@edgekit/breaker')` returns the
// CircuitBreaker class itself, with every named export attached to it (`.default` included), and
// `dist/index.d.cts` declares it with `export =` so TypeScript's CommonJS users see the same.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const dist = new URL('../dist/', import.meta.url);
const js = new URL('index.cjs', dist);
const marker = '//# sourceMappingURL=index.cjs.map';
let code = readFileSync(js, 'utf8');
const patch =
  '// opossum-style CommonJS export: the class, with the named exports attached.\n' +
  'module.exports = Object.assign(module.exports.CircuitBreaker, module.exports);\n';
if (!code.includes(patch)) {
  code = code.includes(marker) ? code.replace(marker, patch + marker) : code + '\n' + patch;
  writeFileSync(js, code);
}

const types = new URL('index.d.cts', dist);
const exportsTypes = new URL('exports.d.cts', dist);
const declarations = readFileSync(types, 'utf8');
if (declarations.includes('export = CircuitBreaker')) process.exit(0);
const list = /export \{([^}]*)\};\s*$/.exec(declarations);
if (!list) throw new Error('cjs-class-export: no export list in index.d.cts');
// Plain exports (a `type` modifier would keep `import X = exports.X` aliases from referring to them).
writeFileSync(exportsTypes, declarations.replace(list[0], `export {${list[1].replace(/\btype\s+/g, '')}};\n`));
rmSync(types);
const names = list[1]
  .split(',')
  .map((entry) => entry.trim().replace(/^type\s+/, ''))
  .filter((entry) => entry.length > 0 && !entry.includes(' as '));
const lines = [
  "import * as exports from './exports.cjs';",
  '',
  '/** The opossum-compatible circuit breaker; in CommonJS also the module, carrying every named export. */',
  'declare class CircuitBreaker<TI extends unknown[] = unknown[], TR = unknown> extends exports.CircuitBreaker<TI, TR> {',
  '  /** The class itself, for code compiled from `import CircuitBreaker from` without interop helpers. */',
  '  static readonly default: typeof CircuitBreaker;',
  '}',
  'declare namespace CircuitBreaker {',
  ...names.map((name) => `  export import ${name} = exports.${name};`),
  ...['Options', 'Window', 'State'].map((name) => `  export import ${name} = exports.CircuitBreaker.${name};`),
  '}',
  'export = CircuitBreaker;',
  '',
];
writeFileSync(types, lines.join('\n'));
