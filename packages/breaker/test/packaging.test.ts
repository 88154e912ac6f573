/**
 * The built package, as its users load it: CommonJS `require()` returns the class (as opossum's
 * does) with the named exports attached, ESM's default export is the class, the declarations
 * type both (checked by tsc on consumer fixtures), and a pending call keeps the process alive
 * until its timeout, as opossum's timers do.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const pnpm = process.platform === 'win32' ? 'pnpm.cmd' : 'pnpm';

beforeAll(async () => {
  await run(pnpm, ['run', 'build'], { cwd: packageDir, timeout: 180_000 });
}, 200_000);

describe('packaging: the built dist', () => {
  it('returns the CircuitBreaker class from require(), with the named exports attached', async () => {
    const script = `
      const CircuitBreaker = require('@edgekit/breaker');
      const breaker = new CircuitBreaker(async (x) => x * 2, { timeout: false });
      breaker.fire(21).then((value) => {
        console.log(JSON.stringify({
          type: typeof CircuitBreaker,
          self: CircuitBreaker.CircuitBreaker === CircuitBreaker,
          default: CircuitBreaker.default === CircuitBreaker,
          registry: typeof CircuitBreaker.createBreakerRegistry,
          errors: typeof CircuitBreaker.OpenCircuitError,
          isOurError: CircuitBreaker.isOurError(new Error('x')),
          value,
        }));
        breaker.shutdown();
      });`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: packageDir, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({
      type: 'function',
      self: true,
      default: true,
      registry: 'function',
      errors: 'function',
      isOurError: false,
      value: 42,
    });
  });

  it('has the class as the ESM default export, next to the named exports', async () => {
    const script = `
      import CircuitBreaker, { CircuitBreaker as Named, createBreakerRegistry } from '@edgekit/breaker';
      console.log(JSON.stringify([CircuitBreaker === Named, typeof createBreakerRegistry, typeof new CircuitBreaker(() => 1).fire]));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual([true, 'function', 'function']);
  });

  it('types CommonJS and ESM consumers (tsc on fixtures, node16 resolution)', async () => {
    const tsc = require.resolve('typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', 'fixtures/packaging/tsconfig.json'], { cwd: packageDir, timeout: 120_000 }).then(
      () => 'ok',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    expect(result).toBe('ok');
  }, 130_000);

  it.each([
    ['opossum', require.resolve('opossum')],
    ['@edgekit/breaker', '@edgekit/breaker'],
  ])('keeps the process alive while a fire() is pending, until its timeout (%s)', async (_, specifier) => {
    const script = `
      const CircuitBreaker = require(${JSON.stringify(specifier)});
      const breaker = new CircuitBreaker(() => new Promise(() => {}), { timeout: 300 });
      breaker.fire().catch((error) => console.log(error.code));`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: packageDir, timeout: 30_000 });
    expect(stdout.trim()).toBe('ETIMEDOUT');
  });

  it.each([
    ['opossum', require.resolve('opossum')],
    ['@edgekit/breaker', '@edgekit/breaker'],
  ])('lets the process exit once its calls ended, a long timeout notwithstanding (%s)', async (_, specifier) => {
    // Kept call timers must not hold the process: it exits right after the last call, not 60 s later.
    const script = `
      const CircuitBreaker = require(${JSON.stringify(specifier)});
      const breaker = new CircuitBreaker(async (x) => x + 1, { timeout: 60_000 });
      (async () => {
        for (let i = 0; i < 1000; i++) await breaker.fire(i);
        console.log('done');
      })();`;
    const { stdout } = await run(process.execPath, ['-e', script], { cwd: packageDir, timeout: 30_000 });
    expect(stdout.trim()).toBe('done');
  });
});
