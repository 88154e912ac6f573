import type { ServerResponse } from 'node:http';
import { type ProblemDetails, describeValue, sendProblem } from '@edgekit/core';
import type { AuthError, ChallengeError } from './errors.js';

// One generic description per RFC 6750 error class: an expired token, a forged one and one signed
// by an unknown key look the same from outside, so a client learns nothing it could use to probe.
const DESCRIPTIONS: Record<ChallengeError, string> = {
  invalid_request: 'The request is malformed',
  invalid_token: 'The credentials are invalid',
  insufficient_scope: 'The credentials do not grant access to this resource',
};

const PROBLEMS = {
  missing: { title: 'Unauthorized', status: 401, detail: 'Authentication is required.' },
  invalid_token: { title: 'Unauthorized', status: 401, detail: 'The credentials are invalid.' },
  invalid_request: { title: 'Bad Request', status: 400, detail: 'The credentials in the request are malformed.' },
  insufficient_scope: { title: 'Forbidden', status: 403, detail: 'The credentials do not grant access to this resource.' },
  unavailable: { title: 'Service Unavailable', status: 503, detail: 'Authentication is temporarily unavailable.' },
} as const satisfies Record<string, ProblemDetails>;

// RFC 9110 §5.6.4 quoted-string without escapes: printable ASCII except `"` and `\`.
const REALM = /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,128}$/;

/** Checks a `realm` option: it is written into `WWW-Authenticate` as a quoted string. */
export function checkRealm(scope: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !REALM.test(value)) {
    throw new TypeError(`${scope}: option "realm" must be 1-128 printable ASCII characters without quotes or backslashes (got ${describeValue(value)})`);
  }
  return value;
}

/** Builds one RFC 6750 §3 challenge: `Bearer realm="api", error="invalid_token", error_description="..."`. */
export function buildChallenge(authScheme: string, realm: string, error: ChallengeError | undefined): string {
  if (error === undefined) return `${authScheme} realm="${realm}"`;
  return `${authScheme} realm="${realm}", error="${error}", error_description="${DESCRIPTIONS[error]}"`;
}

/** The problem+json body for a refusal: generic, the same for every cause within an error class. */
export function problemFor(error: AuthError): ProblemDetails {
  if (error.status === 503) return PROBLEMS.unavailable;
  return error.error === undefined ? PROBLEMS.missing : PROBLEMS[error.error];
}

/**
 * Answers a refused request: status 400/401/403/503, `WWW-Authenticate` (not on 503), and a generic
 * problem+json body. Nothing in the response tells which check failed.
 */
export function sendAuthError(res: ServerResponse, error: AuthError, challenge: string | undefined): void {
  const headers: Record<string, string> = {};
  if (challenge !== undefined && error.status !== 503) headers['www-authenticate'] = challenge;
  sendProblem(res, problemFor(error), headers);
}
