// Brands are registered symbols (`Symbol.for`), so an error made by one copy of a package (ESM and
// CJS builds, or two installed versions) is recognised by the guards of another, where `instanceof` fails.

/** What every edgekit error may carry besides its code and message: the underlying `cause`. */
export interface EdgekitErrorContext {
  /** The error that led to this one (a socket error, a Redis reply). */
  cause?: unknown;
}

/**
 * Base class of every error edgekit throws on purpose: a stable `code` plus the context a caller
 * needs. Every package's error class has the constructor shape `(code, message, context?)`.
 */
export class EdgekitError extends Error {
  /** Stable machine-readable code, such as `EOPENBREAKER` or `ETIMEDOUT`. */
  readonly code: string;

  constructor(code: string, message: string, context?: EdgekitErrorContext) {
    super(message, context?.cause === undefined ? undefined : { cause: context.cause });
    this.name = new.target.name;
    this.code = code;
  }
}
/**
 * Brands a package's error class with `Symbol.for(key)` and returns its guard, which recognises
 * instances made by any copy of the package (`isBusError`, `isCacheError`, ...).
 *
 * @example
 * export const isCacheError = brandError(CacheError, 'edgekit.cache.error');
 */
export function brandError<T extends EdgekitError>(errorClass: abstract new (...args: never[]) => T, key: string): (value: unknown) => value is T {
  const brand = Symbol.for(key);
  Object.defineProperty(errorClass.prototype, brand, { value: true });
  return (value: unknown): value is T => (value as Record<symbol, unknown> | null | undefined)?.[brand] === true;
}

/** True for any error an edgekit package raised, also one from another copy of that package. */
export const isEdgekitError: (value: unknown) => value is EdgekitError = brandError(EdgekitError, 'edgekit.error');
