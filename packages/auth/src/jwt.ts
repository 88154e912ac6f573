import {
  type Clock,
  checkOptionsObject,
  describeValue,
  optionalFunction,
  optionalNumber,
  optionalString,
  systemClock,
} from '@edgekit/core';
import {
  type CryptoKey,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  type JWTVerifyResult,
  type LocalJWKSet,
  createLocalJWKSet,
  decodeProtectedHeader,
  jwtVerify,
} from 'jose';
import { type JwtAlgorithm, checkAlgorithms } from './algorithms.js';
import { AuthBase } from './base.js';
import { AuthError, type AuthErrorCode, isAuthError } from './errors.js';
import { type JwksCache, type JwksCacheOptions, createJwksCache } from './jwks.js';
import { type StaticKey, staticKeySet } from './keys.js';
import { MALFORMED_REQUEST, hasAuthorizationScheme, readAuthorization } from './request.js';
import { buildChallenge, checkRealm } from './respond.js';
import { scopesFromClaims } from './scopes.js';
import type { AuthRequest, Authenticator, JwtAuthInfo } from './types.js';

const SCOPE = '@edgekit/auth';

/** Options for {@link createJwtAuth}. */
export interface JwtAuthOptions {
  /**
   * Allow-list of JWS algorithms. Required, with no default that accepts everything: a token whose
   * `alg` is not listed is refused before any key is looked up. Only public-key algorithms are
   * accepted here (`none` and `HS*` are refused). `DEFAULT_ALGORITHMS` is a good start.
   */
  algorithms: readonly JwtAlgorithm[];
  /** Accepted `iss` value(s). Required. */
  issuer: string | readonly string[];
  /** Accepted `aud` value(s): the token must name at least one. Required. */
  audience: string | readonly string[];
  /** Static public keys (JWK, KeyObject, CryptoKey, PEM SPKI or X.509), optionally with `kid` and a pinned `alg`. */
  keys?: readonly StaticKey[];
  /** A JWK Set URL (or the options of {@link createJwksCache}, or a shared cache) consulted after `keys`. */
  jwks?: string | URL | Omit<JwksCacheOptions, 'clock'> | JwksCache;
  /** Allowed clock skew for `exp`, `nbf` and `iat`, in ms. Default: 5000. */
  clockTolerance?: number;
  /** Refuse tokens whose `iat` is older than this, in ms (makes `iat` required). Default: undefined (no limit). */
  maxTokenAge?: number;
  /** Longest accepted token, in characters; longer ones are refused before any parsing. Default: 8192. */
  maxTokenLength?: number;
  /** Claims that must be present. Default: `['exp']` (a token without an expiry would be valid forever). */
  requiredClaims?: readonly string[];
  /** Required `typ` header (e.g. `at+jwt`, RFC 9068). Default: undefined (not checked). */
  typ?: string;
  /** Reads the granted scopes from the claims. Default: the `scope` claim (space-delimited), else `scp`. */
  scopes?: (claims: JWTPayload) => readonly string[];
  /** Realm of the `WWW-Authenticate` challenge. Default: `api`. */
  realm?: string;
  /** Time source for expiry checks (and the JWKS cache this creates). Default: the system clock. */
  clock?: Clock;
}

/** Defaults of {@link JwtAuthOptions}. */
export const JWT_DEFAULTS = {
  clockTolerance: 5_000,
  maxTokenLength: 8_192,
  requiredClaims: Object.freeze(['exp']) as readonly string[],
  realm: 'api',
} as const;

/** Verifies bearer JWTs with public keys, locally: no call to the issuer per request. */
export interface JwtAuthenticator extends Authenticator<JwtAuthInfo> {
  /** Verifies a compact JWT and returns what it grants; rejects with an {@link AuthError}. */
  verify(token: string): Promise<JwtAuthInfo>;
  /** The JWK Set cache in use, if any. */
  readonly jwks: JwksCache | undefined;
}

function checkStringList(name: string, value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new TypeError(`${SCOPE}: option "${name}" is required: a non-empty string or array of strings (got ${describeValue(value)})`);
  }
  return [...list];
}

function isJwksCache(value: unknown): value is JwksCache {
  return typeof value === 'object' && value !== null && typeof (value as JwksCache).getKey === 'function' && typeof (value as JwksCache).refresh === 'function';
}

function isBase64UrlChar(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || (code >= 0x30 && code <= 0x39) || code === 0x2d || code === 0x5f;
}

/** True for three non-empty base64url segments joined by dots (RFC 7515 §7.1): anything else never reaches a parser. */
function isCompactJws(token: string): boolean {
  let dots = 0;
  let segmentStart = 0;
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code === 0x2e) {
      if (i === segmentStart || ++dots > 2) return false;
      segmentStart = i + 1;
    } else if (!isBase64UrlChar(code)) {
      return false;
    }
  }
  return dots === 2 && segmentStart < token.length;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps a jose failure to our code; every one of them is a 401 `invalid_token` to the client. */
function classify(error: unknown): { code: AuthErrorCode; claim?: string } {
  switch (codeOf(error)) {
    case 'ERR_JWT_EXPIRED':
      return { code: 'ETOKENEXPIRED', claim: (error as { claim?: string }).claim };
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = error as { claim?: string; reason?: string };
      if (claim === 'nbf' && reason === 'check_failed') return { code: 'ETOKENNOTYETVALID', claim };
      if (claim === 'iat') return { code: 'EBADIAT', claim };
      return { code: 'EBADCLAIM', claim };
    }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return { code: 'EALGNOTALLOWED' };
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return { code: 'EBADSIGNATURE' };
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JWKS_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return { code: 'EUNKNOWNKEY' };
    default:
      // jose throws a TypeError when the selected key cannot do what the header asks (key type,
      // curve, RSA modulus): the token does not fit any trusted key.
      return error instanceof TypeError ? { code: 'EUNKNOWNKEY' } : { code: 'ETOKENMALFORMED' };
  }
}

/** Header fields for the error context, read only after a failure. */
function headerContext(token: string): { kid?: string; alg?: string } {
  try {
    const { kid, alg } = decodeProtectedHeader(token);
    return { kid: typeof kid === 'string' ? kid.slice(0, 64) : undefined, alg: typeof alg === 'string' ? alg.slice(0, 32) : undefined };
  } catch {
    return {};
  }
}

const MULTIPLE_CANDIDATE_LIMIT = 8;

class JwtAuth extends AuthBase<JwtAuthInfo> implements JwtAuthenticator {
  readonly scheme = 'jwt' as const;
  readonly jwks: JwksCache | undefined;
  readonly #ownsJwks: boolean;
  readonly #resolveKey: JWTVerifyGetKey;
  readonly #algorithms: JwtAlgorithm[];
  readonly #issuer: string[];
  readonly #audience: string[];
  readonly #requiredClaims: string[];
  readonly #toleranceSeconds: number;
  readonly #maxTokenAgeSeconds: number | undefined;
  readonly #maxTokenLength: number;
  readonly #typ: string | undefined;
  readonly #scopes: (claims: JWTPayload) => readonly string[];
  readonly #clock: Clock;
  readonly #bareChallenge: string;
  #closed = false;

  constructor(options: JwtAuthOptions) {
    const opts = checkOptionsObject<JwtAuthOptions>(SCOPE, options);
    super(checkRealm(SCOPE, opts.realm, JWT_DEFAULTS.realm));
    this.#algorithms = [...checkAlgorithms(SCOPE, opts.algorithms)];
    this.#issuer = checkStringList('issuer', opts.issuer);
    this.#audience = checkStringList('audience', opts.audience);
    this.#clock = opts.clock ?? systemClock;
    this.#toleranceSeconds = optionalNumber(SCOPE, 'clockTolerance', opts.clockTolerance, JWT_DEFAULTS.clockTolerance, { min: 0, max: 600_000 }) / 1000;
    const maxTokenAge = opts.maxTokenAge === undefined ? undefined : optionalNumber(SCOPE, 'maxTokenAge', opts.maxTokenAge, 0, { min: 1_000 });
    this.#maxTokenAgeSeconds = maxTokenAge === undefined ? undefined : maxTokenAge / 1000;
    this.#maxTokenLength = optionalNumber(SCOPE, 'maxTokenLength', opts.maxTokenLength, JWT_DEFAULTS.maxTokenLength, { min: 64, max: 1_048_576, integer: true });
    const required = opts.requiredClaims ?? JWT_DEFAULTS.requiredClaims;
    if (!Array.isArray(required) || required.some((c) => typeof c !== 'string' || c.length === 0)) {
      throw new TypeError(`${SCOPE}: option "requiredClaims" must be an array of claim names (got ${describeValue(required)})`);
    }
    this.#requiredClaims = [...required];
    this.#typ = optionalString(SCOPE, 'typ', opts.typ, undefined);
    this.#scopes = optionalFunction(SCOPE, 'scopes', opts.scopes, scopesFromClaims);

    const local: LocalJWKSet | undefined = opts.keys === undefined ? undefined : createLocalJWKSet(staticKeySet(SCOPE, opts.keys, this.#algorithms));
    if (opts.jwks === undefined) {
      this.jwks = undefined;
      this.#ownsJwks = false;
    } else if (isJwksCache(opts.jwks)) {
      this.jwks = opts.jwks;
      this.#ownsJwks = false;
    } else {
      const jwksOptions = typeof opts.jwks === 'string' || opts.jwks instanceof URL ? { url: opts.jwks } : opts.jwks;
      if (typeof jwksOptions !== 'object' || jwksOptions === null) {
        throw new TypeError(`${SCOPE}: option "jwks" must be a URL, JWKS cache options or a JWKS cache (got ${describeValue(opts.jwks)})`);
      }
      this.jwks = createJwksCache({ ...jwksOptions, clock: this.#clock });
      this.#ownsJwks = true;
    }
    if (!local && !this.jwks) throw new TypeError(`${SCOPE}: one of the options "keys" or "jwks" is required`);
    this.#resolveKey = this.#keyResolver(local, this.jwks);
    this.#bareChallenge = buildChallenge('Bearer', this.realm, undefined);
  }

  #keyResolver(local: LocalJWKSet | undefined, jwks: JwksCache | undefined): JWTVerifyGetKey {
    if (local && jwks) {
      return async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
        try {
          return await local(header, token);
        } catch (error) {
          if (codeOf(error) !== 'ERR_JWKS_NO_MATCHING_KEY') throw error;
          return jwks.getKey(header, token);
        }
      };
    }
    if (local) return local;
    return (header: JWSHeaderParameters, token: FlattenedJWSInput) => (jwks as JwksCache).getKey(header, token);
  }

  hasCredentials(req: AuthRequest): boolean {
    return hasAuthorizationScheme(req, 'bearer');
  }

  challenge(error?: AuthError): string {
    return error?.error === undefined ? this.#bareChallenge : buildChallenge('Bearer', this.realm, error.error);
  }

  async authenticate(req: AuthRequest): Promise<JwtAuthInfo> {
    const token = readAuthorization(req, 'bearer');
    if (token === undefined) throw this.denied(new AuthError('ENOCREDENTIALS', 'no bearer token in the request', { scheme: 'jwt' }), req);
    if (token === MALFORMED_REQUEST) throw this.denied(new AuthError('EBADREQUEST', 'duplicated Authorization header or empty bearer token', { scheme: 'jwt' }), req);
    try {
      return await this.#verify(token);
    } catch (error) {
      throw isAuthError(error) ? this.denied(error, req) : error;
    }
  }

  async verify(token: string): Promise<JwtAuthInfo> {
    try {
      return await this.#verify(token);
    } catch (error) {
      throw isAuthError(error) ? this.denied(error, undefined) : error;
    }
  }

  #toAuthError(error: unknown, token: string): AuthError {
    if (isAuthError(error)) return error;
    const { code, claim } = classify(error);
    return new AuthError(code, `JWT refused: ${(error as Error)?.message ?? String(error)}`, { scheme: 'jwt', claim, cause: error, ...headerContext(token) });
  }

  async #verify(token: string): Promise<JwtAuthInfo> {
    if (this.#closed) throw new AuthError('EAUTHUNAVAILABLE', 'the JWT authenticator is closed', { scheme: 'jwt' });
    if (typeof token !== 'string') throw new AuthError('ETOKENMALFORMED', 'the token is not a string', { scheme: 'jwt' });
    // Size first: an oversized token costs nothing more than this comparison.
    if (token.length > this.#maxTokenLength) throw new AuthError('ETOKENTOOLARGE', `the token is longer than ${this.#maxTokenLength} characters`, { scheme: 'jwt' });
    if (!isCompactJws(token)) throw new AuthError('ETOKENMALFORMED', 'the token is not a compact JWS', { scheme: 'jwt' });
    const now = this.#clock.now();
    const options: JWTVerifyOptions = {
      algorithms: this.#algorithms,
      issuer: this.#issuer,
      audience: this.#audience,
      requiredClaims: this.#requiredClaims,
      clockTolerance: this.#toleranceSeconds,
      currentDate: new Date(now),
    };
    if (this.#maxTokenAgeSeconds !== undefined) options.maxTokenAge = this.#maxTokenAgeSeconds;
    if (this.#typ !== undefined) options.typ = this.#typ;
    let result: JWTVerifyResult;
    try {
      try {
        result = await jwtVerify(token, this.#resolveKey, options);
      } catch (error) {
        if (codeOf(error) !== 'ERR_JWKS_MULTIPLE_MATCHING_KEYS') throw error;
        result = await this.#verifyWithCandidates(token, error as AsyncIterable<unknown>, options);
      }
    } catch (error) {
      // Everything that fails inside verification is the token's fault (or the keys' availability);
      // errors after this point, such as a throwing `scopes` reader, are bugs and surface as such.
      throw this.#toAuthError(error, token);
    }
    const claims = result.payload;
    // jose checks `iat` only against maxTokenAge; a token issued in the future is refused here too.
    if (typeof claims.iat === 'number' && claims.iat > Math.floor(now / 1000) + this.#toleranceSeconds) {
      throw new AuthError('EBADIAT', 'the token was issued in the future', { scheme: 'jwt', claim: 'iat', ...headerContext(token) });
    }
    Object.freeze(claims);
    return {
      scheme: 'jwt',
      subject: typeof claims.sub === 'string' ? claims.sub : undefined,
      scopes: this.#scopes(claims),
      claims,
      header: Object.freeze(result.protectedHeader),
      token,
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : undefined,
    };
  }

  /** Several keys fit a token without `kid`: try each (a handful at most) until one verifies. */
  async #verifyWithCandidates(token: string, candidates: AsyncIterable<unknown>, options: JWTVerifyOptions): Promise<JWTVerifyResult> {
    let lastError: unknown = new AuthError('EUNKNOWNKEY', 'no candidate key verified the token', { scheme: 'jwt' });
    let tried = 0;
    for await (const key of candidates) {
      if (++tried > MULTIPLE_CANDIDATE_LIMIT) break;
      try {
        return await jwtVerify(token, key as CryptoKey, options);
      } catch (error) {
        lastError = error;
        if (codeOf(error) !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') throw error;
      }
    }
    throw lastError;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.events.removeAllListeners();
    if (this.#ownsJwks) await this.jwks?.close();
  }
}

/**
 * Creates a {@link JwtAuthenticator}: bearer JWTs verified at the edge with static public keys
 * and/or a JWK Set URL refreshed in the background.
 *
 * @example
 * const jwt = createJwtAuth({ algorithms: ['RS256'], issuer: 'https://id.example', audience: 'orders',
 *   jwks: 'https://id.example/.well-known/jwks.json' });
 * app.use(jwt.middleware());
 */
export function createJwtAuth(options: JwtAuthOptions): JwtAuthenticator {
  return new JwtAuth(options);
}
