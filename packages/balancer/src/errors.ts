import { EdgekitError, brandError } from '@edgekit/core';

/** Stable codes of {@link BalancerError}. */
export type BalancerErrorCode =
  /** A DNS query for an endpoint set failed; the last known endpoints stay in use. */
  | 'EDNS'
  /** The endpoint set or region balancer was closed. */
  | 'ECLOSED';

/** An error raised by an endpoint set or balancer: a stable `code` and the name it concerns. */
export class BalancerError extends EdgekitError {
  declare readonly code: BalancerErrorCode;
  /** The DNS name, region or endpoint the error concerns. */
  readonly target: string;

  constructor(code: BalancerErrorCode, message: string, context: { target: string; cause?: unknown }) {
    super(code, message, context.cause === undefined ? undefined : { cause: context.cause });
    this.target = context.target;
  }
}

/** True for a {@link BalancerError}, also one thrown by another copy of this package. */
export const isBalancerError: (value: unknown) => value is BalancerError = brandError(BalancerError, 'edgekit.balancer.error');
