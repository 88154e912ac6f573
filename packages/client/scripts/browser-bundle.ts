// Bundles the client for browsers the way an application's bundler would (every import resolved,
// nothing external) and measures it. Run: pnpm --filter @edgekit/client size
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** The browser bundle of the client, minified, and its sizes in bytes. */
export interface BrowserBundle {
  code: string;
  minified: number;
  gzipped: number;
}

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/**
 * Builds `src/index.ts` for `platform: 'browser'` with no externals: a Node built-in anywhere in the
 * import graph fails the build. `format` `'iife'` exposes the exports as `globalThis.EdgekitClient`.
 */
export async function buildBrowserBundle(format: 'esm' | 'iife' = 'esm'): Promise<BrowserBundle> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    write: false,
    platform: 'browser',
    // Workspace packages (`@edgekit/core/errors`) resolve to their sources, as in the tests.
    conditions: ['@edgekit/source'],
    format,
    globalName: format === 'iife' ? 'EdgekitClient' : undefined,
    target: 'es2022',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.text;
  return { code, minified: Buffer.byteLength(code), gzipped: gzipSync(code, { level: 9 }).length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { minified, gzipped } = await buildBrowserBundle();
  console.log(`@edgekit/client browser bundle (esbuild --minify, ESM): ${(minified / 1024).toFixed(2)} kB minified, ${(gzipped / 1024).toFixed(2)} kB min+gzip`);
}
