/** What an {@link UntimedCall} reports to: the breaker that started it. */
export interface UntimedCallOwner {
  _untimedFulfilled(call: UntimedCall, value: unknown): unknown;
  _untimedRejected(call: UntimedCall, error: unknown): PromiseLike<unknown>;
}

/** Most idle calls a pool keeps; beyond it, released calls are left to the garbage collector. */
const POOL_LIMIT = 64;

/**
 * One `fire()` without a timeout, from its start to its action's outcome: what that outcome needs
 * (arguments, cache key, start time, probe epoch, sampling) and the two reactions handed to the
 * action's promise, bound once. Up to three arguments are held as they came, the array opossum
 * passes to `failure` listeners and the fallback being built only when a call fails. A call goes
 * back to its pool once a reaction has run, so calls allocate no closures.
 */
export class UntimedCall {
  /** The arguments as an array, once built; `undefined` while they are held in `a0`..`a2`. */
  args: unknown[] | undefined = undefined;
  argc = 0;
  a0: unknown = undefined;
  a1: unknown = undefined;
  a2: unknown = undefined;
  key = '';
  start = 0;
  probeEpoch = -1;
  sampled = false;
  /** The action's promise, kept for the result cache. */
  promise: Promise<unknown> | undefined = undefined;
  /** Next idle call of the pool. */
  next: UntimedCall | undefined = undefined;
  readonly onFulfilled: (value: unknown) => unknown;
  readonly onRejected: (error: unknown) => PromiseLike<unknown>;
  readonly #pool: UntimedCallPool | undefined;

  constructor(owner: UntimedCallOwner, pool: UntimedCallPool | undefined) {
    this.#pool = pool;
    this.onFulfilled = (value) => owner._untimedFulfilled(this, value);
    this.onRejected = (error) => owner._untimedRejected(this, error);
  }

  /** Holds a call of up to three arguments, started at clock time `start` (`NaN` when not read). */
  hold(argc: number, a0: unknown, a1: unknown, a2: unknown, start: number, sampled: boolean): void {
    this.argc = argc;
    this.a0 = a0;
    this.a1 = a1;
    this.a2 = a2;
    this.start = start;
    this.sampled = sampled;
  }

  /** The call's arguments, as one array (the same array on every use). */
  argsArray(): unknown[] {
    if (this.args !== undefined) return this.args;
    const args = argsOf(this.argc, this.a0, this.a1, this.a2);
    this.args = args;
    return args;
  }

  /** Drops the references of the finished call and returns it to its pool. */
  release(): void {
    this.args = undefined;
    this.a0 = undefined;
    this.a1 = undefined;
    this.a2 = undefined;
    this.key = '';
    this.probeEpoch = -1;
    this.promise = undefined;
    this.#pool?.put(this);
  }
}

/** Idle {@link UntimedCall}s of one breaker, as a stack. */
export class UntimedCallPool {
  #head: UntimedCall | undefined = undefined;
  #size = 0;

  take(owner: UntimedCallOwner): UntimedCall {
    const call = this.#head;
    if (call === undefined) return new UntimedCall(owner, this);
    this.#head = call.next;
    call.next = undefined;
    this.#size--;
    return call;
  }

  put(call: UntimedCall): void {
    if (this.#size >= POOL_LIMIT) return;
    call.next = this.#head;
    this.#head = call;
    this.#size++;
  }
}

/** The first `argc` (at most three) of `a0`, `a1`, `a2`, as an array. */
export function argsOf(argc: number, a0: unknown, a1: unknown, a2: unknown): unknown[] {
  return argc === 0 ? [] : argc === 1 ? [a0] : argc === 2 ? [a0, a1] : [a0, a1, a2];
}

/** `action.apply(context, args)`, without the generic spread for the usual short argument lists. */
export function callWith(action: (...args: any[]) => unknown, context: unknown, args: unknown[]): unknown {
  switch (args.length) {
    case 0:
      return action.call(context);
    case 1:
      return action.call(context, args[0]);
    case 2:
      return action.call(context, args[0], args[1]);
    case 3:
      return action.call(context, args[0], args[1], args[2]);
    default:
      return action.apply(context, args);
  }
}

/** `action.call(context, a0, a1)` or `action.call(context, a0, a1, a2)`, as `argc` says. */
export function callUpTo3(action: (...args: any[]) => unknown, context: unknown, argc: number, a0: unknown, a1: unknown, a2: unknown): unknown {
  return argc === 2 ? action.call(context, a0, a1) : action.call(context, a0, a1, a2);
}
