/** Base class of every error edgekit throws on purpose: a stable `code` plus the context a caller needs. */
export class EdgekitError extends Error {
  /** Stable machine-readable code, such as `EOPENBREAKER` or `ETIMEDOUT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
