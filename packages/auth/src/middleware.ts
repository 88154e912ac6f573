import type { ServerResponse } from 'node:http';
import { sendProblem } from '@edgekit/core';
import { AuthError, isAuthError } from './errors.js';
import { buildChallenge, checkRealm, sendAuthError } from './respond.js';
import { hasScopes } from './scopes.js';
import type { AuthInfo, AuthMiddleware, AuthRequest, Authenticator } from './types.js';

const SCOPE = '@edgekit/auth';
const INTERNAL_ERROR = { title: 'Internal Server Error', status: 500, detail: 'The request could not be authenticated.' };

/** The `WWW-Authenticate` scheme name for an authenticated request's scheme. */
export function authSchemeName(info: AuthInfo | undefined): string {
  return info?.scheme === 'apiKey' ? 'ApiKey' : 'Bearer';
}

/** Answers with the refusal, or 500 for an error that is not an {@link AuthError} (never lets the request through). */
export function refuse(res: ServerResponse, error: unknown, challenge: (error: AuthError) => string): void {
  if (isAuthError(error)) sendAuthError(res, error, challenge(error));
  else sendProblem(res, INTERNAL_ERROR);
}

function callNext(res: ServerResponse, next: () => void): void {
  try {
    next();
  } catch {
    // A throwing downstream handler must not surface as an unhandled rejection of the middleware.
    if (!res.writableEnded) sendProblem(res, INTERNAL_ERROR);
  }
}

/** Runs `authenticator` for one request: on success sets `req.auth` and calls `next()`, otherwise answers. */
export async function runAuthentication(authenticator: Authenticator, optional: boolean, req: AuthRequest, res: ServerResponse, next: () => void): Promise<void> {
  if (optional && !authenticator.hasCredentials(req)) {
    callNext(res, next);
    return;
  }
  try {
    req.auth = await authenticator.authenticate(req);
  } catch (error) {
    refuse(res, error, (e) => authenticator.challenge(e));
    return;
  }
  callNext(res, next);
}

/** Options of {@link requireScopes}. */
export interface RequireScopesOptions {
  /** `all`: every listed scope is needed; `any`: one is enough. Default: `all`. */
  mode?: 'all' | 'any';
  /** Realm of the `WWW-Authenticate` challenge. Default: `api`. */
  realm?: string;
  /** Called with each refusal (for telemetry), as the authenticators' `denied` event is. */
  onDenied?: (error: AuthError, req: AuthRequest) => void;
}

/** Checks the `scopes` argument of {@link requireScopes}. */
export function checkScopes(value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new TypeError(`${SCOPE}: requireScopes(scopes) needs an array of non-empty strings`);
  }
  return Object.freeze([...value]);
}

/**
 * Middleware that lets a request through only when the authentication set on `req.auth` grants
 * `scopes`: 403 with `error="insufficient_scope"` otherwise, and 401 when the request was not
 * authenticated at all. Place it after an authenticator's middleware.
 */
export function requireScopes(scopes: readonly string[], options: RequireScopesOptions = {}): AuthMiddleware {
  const required = checkScopes(scopes);
  const mode = options.mode ?? 'all';
  if (mode !== 'all' && mode !== 'any') throw new TypeError(`${SCOPE}: option "mode" must be "all" or "any" (got ${JSON.stringify(mode)})`);
  const realm = checkRealm(SCOPE, options.realm, 'api');
  const onDenied = options.onDenied;
  return (req, res, next) => {
    const info = req.auth;
    let error: AuthError | undefined;
    if (info === undefined) {
      error = new AuthError('ENOCREDENTIALS', 'the request was not authenticated before a scope check');
    } else if (!hasScopes(info.scopes, required, mode)) {
      error = new AuthError('EINSUFFICIENTSCOPE', `missing scope (${mode} of ${required.join(' ')})`, {
        scheme: info.scheme,
        requiredScopes: required,
        keyId: info.scheme === 'apiKey' ? info.keyId : undefined,
      });
    }
    if (error === undefined) {
      callNext(res, next);
      return;
    }
    if (onDenied) {
      try {
        onDenied(error, req);
      } catch {
        // Telemetry must not change the answer.
      }
    }
    sendAuthError(res, error, buildChallenge(authSchemeName(info), realm, error.error));
  };
}
