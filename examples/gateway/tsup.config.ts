import { defineConfig } from 'tsup';

/**
 * The gateway's build: the library (`dist/index.js` with types), the `edge-gateway` command
 * (`dist/main.js`) and the demo (`dist/demo.js`), all ESM for plain `node`, no tsx.
 */
export default defineConfig({
  entry: { index: 'src/index.ts', main: 'src/main.ts', demo: 'src/demo.ts' },
  format: ['esm'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
});
