import { EdgekitError, brandError } from '@edgekit/core';

/**
 * Why a request was refused. Codes are for logs, metrics and the `denied` event; responses only
 * ever show the RFC 6750 error class (`invalid_request`, `invalid_token`, `insufficient_scope`).
 */
export type AuthErrorCode =
  /** No credentials of a known scheme were sent. */
  | 'ENOCREDENTIALS'
  /** The request itself is malformed: duplicated credential headers, an empty bearer token, two schemes at once. */
  | 'EBADREQUEST'
  /** The token is longer than `maxTokenLength`; it was refused before any parsing. */
  | 'ETOKENTOOLARGE'
  /** The token is not a compact JWS (segments, characters, JSON, encoding). */
  | 'ETOKENMALFORMED'
  /** The token's `alg` is not in the allow-list (this includes `none` and every HMAC algorithm). */
  | 'EALGNOTALLOWED'
  /** No trusted key matches the token's `kid`, `alg` and key type. */
  | 'EUNKNOWNKEY'
  /** The signature does not verify. */
  | 'EBADSIGNATURE'
  /** `exp` is in the past (beyond `clockTolerance`), or the token is older than `maxTokenAge`. */
  | 'ETOKENEXPIRED'
  /** `nbf` is in the future (beyond `clockTolerance`). */
  | 'ETOKENNOTYETVALID'
  /** `iat` is in the future (beyond `clockTolerance`) or not a number. */
  | 'EBADIAT'
  /** A claim check failed: issuer, audience, `typ`, or a required claim is missing or has the wrong type. */
  | 'EBADCLAIM'
  /** The API key is unknown to the origin, malformed, or was cached as invalid. */
  | 'EKEYINVALID'
  /** The API key was revoked (a revocation reached this node). */
  | 'EKEYREVOKED'
  /** The credentials are valid but lack a required scope. */
  | 'EINSUFFICIENTSCOPE'
  /** The keys or the API-key origin could not be reached, so the credentials could not be checked. */
  | 'EAUTHUNAVAILABLE';

/** The RFC 6750 §3.1 error class of a refusal, or `undefined` when no credentials were sent. */
export type ChallengeError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** The credential scheme an authenticator handles. */
export type AuthScheme = 'jwt' | 'apiKey';

interface CodeClass {
  status: 400 | 401 | 403 | 503;
  error: ChallengeError | undefined;
}

const INVALID_TOKEN: CodeClass = { status: 401, error: 'invalid_token' };

const CLASSES: Record<AuthErrorCode, CodeClass> = {
  ENOCREDENTIALS: { status: 401, error: undefined },
  EBADREQUEST: { status: 400, error: 'invalid_request' },
  ETOKENTOOLARGE: INVALID_TOKEN,
  ETOKENMALFORMED: INVALID_TOKEN,
  EALGNOTALLOWED: INVALID_TOKEN,
  EUNKNOWNKEY: INVALID_TOKEN,
  EBADSIGNATURE: INVALID_TOKEN,
  ETOKENEXPIRED: INVALID_TOKEN,
  ETOKENNOTYETVALID: INVALID_TOKEN,
  EBADIAT: INVALID_TOKEN,
  EBADCLAIM: INVALID_TOKEN,
  EKEYINVALID: INVALID_TOKEN,
  EKEYREVOKED: INVALID_TOKEN,
  EINSUFFICIENTSCOPE: { status: 403, error: 'insufficient_scope' },
  EAUTHUNAVAILABLE: { status: 503, error: undefined },
};

/** Context attached to an {@link AuthError}; none of it is ever sent to the client. */
export interface AuthErrorContext {
  /** Which authenticator refused. */
  scheme?: AuthScheme;
  /** The JWT header `kid`, when one was read (truncated to 64 characters). */
  kid?: string;
  /** The JWT header `alg`, when one was read. */
  alg?: string;
  /** The claim whose check failed (`iss`, `aud`, `exp`, ...). */
  claim?: string;
  /** A short prefix of the API key's SHA-256 (never the key itself). */
  keyId?: string;
  /** The scopes that were required, for `EINSUFFICIENTSCOPE`. */
  requiredScopes?: readonly string[];
  /** The underlying error (a jose error, a fetch error). */
  cause?: unknown;
}

/**
 * A refused authentication. `code` and the context are for logs and telemetry; the HTTP response
 * built from it (see `sendAuthError`) only carries `status` and the generic RFC 6750 error class.
 * The message never contains the token or the key.
 */
export class AuthError extends EdgekitError {
  declare readonly code: AuthErrorCode;
  /** HTTP status of the response: 400, 401, 403 or 503. */
  readonly status: 400 | 401 | 403 | 503;
  /** RFC 6750 error class for `WWW-Authenticate`, or `undefined` (no credentials, or 503). */
  readonly error: ChallengeError | undefined;
  readonly scheme: AuthScheme | undefined;
  readonly kid: string | undefined;
  readonly alg: string | undefined;
  readonly claim: string | undefined;
  readonly keyId: string | undefined;
  readonly requiredScopes: readonly string[] | undefined;

  constructor(code: AuthErrorCode, message: string, context: AuthErrorContext = {}) {
    super(code, message, context.cause === undefined ? undefined : { cause: context.cause });
    const cls = CLASSES[code];
    this.status = cls.status;
    this.error = cls.error;
    this.scheme = context.scheme;
    this.kid = context.kid;
    this.alg = context.alg;
    this.claim = context.claim;
    this.keyId = context.keyId;
    this.requiredScopes = context.requiredScopes;
  }
}

/** True for an {@link AuthError}, including one from another copy of this package. */
export const isAuthError: (value: unknown) => value is AuthError = brandError(AuthError, 'edgekit.auth.error');
