/**
 * Polls `check` until it holds, for state that changes through real I/O (a socket, a server, a
 * child process): never a fixed sleep. Fails naming `what` once `timeoutMs` have passed.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
