import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);

/** Node arguments that run a TypeScript file against the workspace sources (no build needed). */
export function tsNodeArgs(): string[] {
  return ['--conditions=@edgekit/source', '--import', require.resolve('tsx')];
}

/** A child process running a TypeScript file, with a line-based message channel over stdout. */
export interface TsChild {
  readonly child: ChildProcess;
  /** Resolves with the first stdout line that satisfies `match`. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** Writes one line to the child's stdin. */
  send(line: string): void;
  /** Kills the child and waits for it to exit. */
  stop(): Promise<void>;
}

/** Spawns `node <nodeArgs> <tsNodeArgs> file ...args` with piped stdio (`nodeArgs` such as `--cpu-prof`, which NODE_OPTIONS refuses). */
export function spawnTs(file: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, nodeArgs: readonly string[] = []): TsChild {
  const child = spawn(process.execPath, [...nodeArgs, ...tsNodeArgs(), file, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters = new Set<{ match: (line: string) => boolean; resolve: (line: string) => void }>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const waiter of waiters) {
      if (waiter.match(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  return {
    child,
    waitForLine(match, timeoutMs = 20_000) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const waiter = { match, resolve: (line: string) => { clearTimeout(timer); resolve(line); } };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`child ${file} printed no matching line within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    send(line) {
      child.stdin!.write(`${line}\n`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
