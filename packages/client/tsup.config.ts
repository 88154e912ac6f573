import { defineConfig } from 'tsup';

/**
 * The client runs in browsers, Node, Deno, Bun and React Native from one build: it imports no
 * Node built-in, so the build targets the neutral platform and an ES2022 language level.
 */
export default defineConfig({
  entry: ['src/index.ts', 'src/sign.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  platform: 'neutral',
});
