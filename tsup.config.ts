import { defineConfig } from 'tsup';

/** One build for every package: run from the package directory as `tsup --config ../../tsup.config.ts`. */
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  // `import.meta.url` works in the CJS build too (lazy `createRequire` of optional data).
  shims: true,
});
