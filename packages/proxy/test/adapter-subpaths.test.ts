/**
 * The Express and Fastify adapters are subpaths of their own: loading the main entry loads neither
 * adapter nor `fastify-plugin`, checked in a fresh process (the test runner's module graph would
 * hide what a user's process loads).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** Imports `specifier` in a new Node process (sources through tsx) and reports its exports and the adapter modules loaded. */
async function load(specifier: string): Promise<{ exports: string[]; adapterModules: string[] }> {
  const script = `
    const { createRequire } = await import('node:module');
    const mod = await import(${JSON.stringify(specifier)});
    const loaded = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({ exports: Object.keys(mod).sort(), adapterModules: loaded.filter((p) => /fastify|express/.test(p)) }));`;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--conditions=@edgekit/source', '--input-type=module', '-e', script], {
    cwd: packageDir,
    timeout: 60_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string);
}

describe('adapter subpaths', () => {
  it('loads neither adapter nor fastify-plugin from the main entry', async () => {
    const main = await load('@edgekit/proxy');
    expect(main.exports).toContain('createForwarder');
    expect(main.exports).not.toContain('expressForwarder');
    expect(main.exports).not.toContain('fastifyForwarder');
    expect(main.adapterModules).toEqual([]);
  }, 90_000);

  it('serves expressForwarder from @edgekit/proxy/express and fastifyForwarder from @edgekit/proxy/fastify', async () => {
    const express = await load('@edgekit/proxy/express');
    expect(express.exports).toEqual(['expressForwarder']);
    const fastify = await load('@edgekit/proxy/fastify');
    expect(fastify.exports).toEqual(['fastifyForwarder']);
    expect(fastify.adapterModules.some((path) => path.includes('fastify-plugin'))).toBe(true);
  }, 90_000);
});
