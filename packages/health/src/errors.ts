import { EdgekitError, brandError } from '@edgekit/core';

/**
 * Stable codes of {@link HealthCheckError}:
 * - `ETIMEDOUT`: the probe did not finish within `timeout` and was aborted.
 * - `EBADSTATUS`: the HTTP status is not in `expect.status`.
 * - `EBADBODY`: `expect.body` returned false or threw, or the body exceeded `maxBodyBytes`.
 * - `EPROBEFAILED`: the connection failed, or a custom probe threw or returned `false`.
 * - `ECLOSED`: the checker was closed.
 * - `EDEPENDENCY`: a readiness dependency failed or timed out.
 */
export type HealthErrorCode = 'ETIMEDOUT' | 'EBADSTATUS' | 'EBADBODY' | 'EPROBEFAILED' | 'ECLOSED' | 'EDEPENDENCY';

/** Why a probe or a readiness dependency failed; `target` names the region or dependency. */
export class HealthCheckError extends EdgekitError {
  declare readonly code: HealthErrorCode;
  /** The target (or dependency) name. */
  readonly target: string;
  /** The HTTP status, when a response arrived. */
  readonly status: number | undefined;

  constructor(code: HealthErrorCode, message: string, context: { target: string; status?: number; cause?: unknown }) {
    super(code, message, context);
    this.target = context.target;
    this.status = context.status;
  }
}

/** True for a {@link HealthCheckError}, also one thrown by another copy of this package. */
export const isHealthCheckError: (value: unknown) => value is HealthCheckError = brandError(HealthCheckError, 'edgekit.health.error');
