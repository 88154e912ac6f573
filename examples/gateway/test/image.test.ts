// Replays the Dockerfile without docker: its build-stage RUN steps (compile, `pnpm deploy --prod`)
// with the output in a clean temporary folder, then its ENTRYPOINT and CMD there with its ENV, the
// way the container starts. The same process then proves the drain on SIGINT and SIGTERM.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoOrigin } from '../src/origin.js';
import { CLIENTS, baseConfig, from, startOrigins, waitFor } from './helpers.js';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = join(packageDir, '..', '..');
const dockerfile = readFileSync(join(packageDir, 'Dockerfile'), 'utf8');

/** The instructions of each stage, continuation lines joined. */
function stages(text: string): Array<Array<{ op: string; args: string }>> {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((line) => line.trim()).filter((line) => line !== '' && !line.startsWith('#'));
  const result: Array<Array<{ op: string; args: string }>> = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    if (op === 'FROM') result.push([]);
    result.at(-1)?.push({ op: op!, args: rest.join(' ') });
  }
  return result;
}

const [buildStage, runtimeStage] = stages(dockerfile);

describe('the Dockerfile, replayed without docker', () => {
  let work: string;
  let app: string;
  let origins: Record<'us' | 'eu' | 'ap', DemoOrigin>;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'edge-gateway-image-'));
    app = join(work, 'app');
    origins = await startOrigins();
    for (const { op, args } of buildStage!) {
      if (op !== 'RUN') continue;
      if (args.startsWith('corepack')) continue; // pnpm is already on this machine
      // The workspace is the build context; the build is skipped when an earlier step of the test
      // command (`pnpm check`) already compiled every package and the gateway.
      if (args.includes(' build') && existsSync(join(packageDir, 'dist', 'main.js')) && existsSync(join(repoRoot, 'packages', 'proxy', 'dist', 'index.js'))) continue;
      const command = args.replace(/ \/out$/, ` ${app}`);
      // Asynchronous: a build step can take minutes on a loaded machine, and a worker whose loop is
      // blocked that long cannot answer vitest's RPC (which times out after 60 s and fails the run).
      await run('sh', ['-c', command], { cwd: repoRoot, env: { ...process.env, CI: 'true' }, maxBuffer: 256 * 1024 * 1024 });
    }
  }, 600_000);

  afterAll(async () => {
    await Promise.all(Object.values(origins ?? {}).map((origin) => origin.close()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('builds in two stages and runs as the non-root node user', () => {
    expect(buildStage!.some(({ op, args }) => op === 'RUN' && args.includes('deploy --prod'))).toBe(true);
    expect(runtimeStage!.find(({ op }) => op === 'USER')?.args).toBe('node');
    expect(runtimeStage!.find(({ op }) => op === 'COPY')?.args).toBe('--from=build /out /app');
    const manifest = readFileSync(join(packageDir, 'deploy', 'kubernetes', 'deployment.yaml'), 'utf8');
    const image = /image: (\S+)/.exec(manifest)?.[1];
    const version = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')).version as string;
    expect(image).toBe(`registry.example.com/edge-gateway:${version}`);
    expect(dockerfile).toContain(`-t ${image} .`);
  });

  it('ships the compiled gateway with production dependencies only', () => {
    expect(existsSync(join(app, 'dist', 'main.js'))).toBe(true);
    expect(existsSync(join(app, 'src'))).toBe(false);
    const installed = readdirSync(join(app, 'node_modules', '.pnpm'));
    // vitest (and vite, esbuild and tsx under it) is left out of this list: @edgekit/balancer
    // declares vitest an optional peer for its /testing entry, and `pnpm deploy` copies the optional
    // peers the workspace lockfile resolved. The build tools of this repository must never ship.
    for (const devOnly of ['tsup', 'typescript', 'playwright-core', '@arethetypeswrong+cli', 'publint']) {
      expect(installed.filter((name) => name.startsWith(`${devOnly}@`)), devOnly).toEqual([]);
    }
    expect(existsSync(join(app, 'node_modules', '@edgekit', 'test-utils'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', '@edgekit', 'proxy', 'dist', 'index.js'))).toBe(true);
  });

  /** Starts the image's ENTRYPOINT + CMD (with the config path mapped into the temporary folder). */
  function startContainer(configFile: string): { child: ChildProcess; lines: string[]; waitForLine(match: (line: string) => boolean): Promise<string> } {
    const env = Object.fromEntries(
      runtimeStage!
        .filter(({ op }) => op === 'ENV')
        .flatMap(({ args }) => args.split(/\s+/).map((pair) => pair.split('=') as [string, string])),
    );
    const entrypoint = JSON.parse(runtimeStage!.find(({ op }) => op === 'ENTRYPOINT')!.args) as string[];
    const cmd = JSON.parse(runtimeStage!.find(({ op }) => op === 'CMD')!.args) as string[];
    const argv = [...entrypoint, ...cmd].map((arg) => arg.replace(/^\/app\//, `${app}/`).replace('/etc/edge-gateway/gateway.yaml', configFile));
    // The container's HOST and PORT, narrowed to loopback and a free port for the test machine.
    const child = spawn(argv[0] === 'node' ? process.execPath : argv[0]!, argv.slice(1), {
      cwd: app,
      env: { PATH: process.env.PATH, ...env, HOST: '127.0.0.1', PORT: '0', EDGE_NODE_ID: 'image-1' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    const waiters = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void }>();
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      for (const waiter of waiters) if (waiter.match(line)) (waiters.delete(waiter), waiter.resolve(line));
    });
    return {
      child,
      lines,
      waitForLine: (match) => {
        const seen = lines.find(match);
        return seen !== undefined ? Promise.resolve(seen) : new Promise((resolve) => waiters.add({ match, resolve }));
      },
    };
  }

  it.each(['SIGINT', 'SIGTERM'] as const)('on %s mid-request fails readiness, drains the request in flight and exits 0', async (signal) => {
    const configFile = join(work, `gateway-${signal}.yaml`);
    writeFileSync(configFile, stringify(baseConfig(origins, { server: { host: '127.0.0.1', port: 8080, shutdownDelay: 500, drainTimeout: 10_000 } } as never)));
    const container = startContainer(configFile);
    const exited = once(container.child, 'exit');
    try {
      const { url, nodeId } = JSON.parse(await container.waitForLine((line) => line.includes('"msg":"listening"'))) as { url: string; nodeId: string };
      expect(nodeId).toBe('image-1');
      await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 20_000, 'ready');

      const before = origins.us.hits.get('/slow') ?? 0;
      const slow = fetch(`${url}/slow?ms=1500`, { headers: from(CLIENTS.virginia) });
      await waitFor(() => (origins.us.hits.get('/slow') ?? 0) > before, 10_000, 'the slow request reached the origin');
      container.child.kill(signal);
      await waitFor(async () => (await fetch(`${url}/ready`)).status === 503, 5_000, 'readiness failing');

      const response = await slow;
      expect(response.status).toBe(200);
      expect(((await response.json()) as { waitedMs: number }).waitedMs).toBe(1500);
      const [code, exitSignal] = (await exited) as [number | null, string | null];
      expect(exitSignal).toBeNull();
      expect(code).toBe(0);
    } finally {
      if (container.child.exitCode === null && container.child.signalCode === null) container.child.kill('SIGKILL');
    }
  }, 60_000);
});
