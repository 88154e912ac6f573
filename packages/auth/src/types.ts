import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Disposable } from '@edgekit/core';
import type { JWTHeaderParameters, JWTPayload } from 'jose';
import type { AuthError, AuthErrorCode, AuthScheme } from './errors.js';

/** The parts of a request authentication reads: a Node `IncomingMessage` or an Express request fits. */
export interface AuthRequest {
  headers: IncomingHttpHeaders;
  /** Node's raw header list; used to spot duplicated credential headers that `headers` would hide. */
  rawHeaders?: string[];
  method?: string;
  url?: string;
  /** Set by the middleware on success. */
  auth?: AuthInfo;
}

/** What a verified JWT hands to the request. */
export interface JwtAuthInfo {
  readonly scheme: 'jwt';
  /** The `sub` claim. */
  readonly subject: string | undefined;
  /** Scopes granted by the token (from `scope` / `scp` by default). */
  readonly scopes: readonly string[];
  /** The verified claims set. */
  readonly claims: JWTPayload;
  /** The verified protected header. */
  readonly header: JWTHeaderParameters;
  /** The compact token as received, for forwarding upstream. */
  readonly token: string;
  /** `exp` in milliseconds since the epoch, when present. */
  readonly expiresAt: number | undefined;
}

/** What the API-key origin said about a valid key. */
export interface ApiKeyPrincipal {
  /** Who the key belongs to. */
  subject?: string;
  /** Scopes the key grants. */
  scopes?: readonly string[];
  [extension: string]: unknown;
}

/** What a valid API key hands to the request. The raw key is deliberately absent. */
export interface ApiKeyAuthInfo<P extends ApiKeyPrincipal = ApiKeyPrincipal> {
  readonly scheme: 'apiKey';
  readonly subject: string | undefined;
  readonly scopes: readonly string[];
  /** The origin's answer, as returned by `validate`. */
  readonly principal: P;
  /** A short prefix of the key's SHA-256, safe to log. */
  readonly keyId: string;
}

/** The result of a successful authentication, set as `req.auth` by the middleware. */
export type AuthInfo = JwtAuthInfo | ApiKeyAuthInfo;

/** Emitted for every refusal, for telemetry. Carries no credential. */
export interface DeniedEvent {
  readonly code: AuthErrorCode;
  readonly status: number;
  readonly scheme: AuthScheme | undefined;
  /** The internal reason (the error message); never sent to the client. */
  readonly reason: string;
  readonly keyId: string | undefined;
  readonly kid: string | undefined;
  readonly method: string | undefined;
  /** The request path without its query string (which may hold secrets). */
  readonly path: string | undefined;
  readonly error: AuthError;
}

/** Events shared by every authenticator. */
export type AuthEvents = {
  /** A request was refused. */
  denied: [event: DeniedEvent];
};

/** Express-compatible middleware: `next()` is only ever called on success, never with an error. */
export type AuthMiddleware = (req: AuthRequest, res: ServerResponse, next: () => void) => void;

/** Options of {@link Authenticator.middleware}. */
export interface MiddlewareOptions {
  /** Continue without `req.auth` when no credentials are sent (bad credentials are still refused). Default: false. */
  optional?: boolean;
}

/** A credential scheme (or a combination of schemes) that authenticates requests. */
export interface Authenticator<I extends AuthInfo = AuthInfo> {
  /** The credential scheme handled, or `undefined` for a combination. */
  readonly scheme: AuthScheme | undefined;
  /** True when `req` carries credentials for this authenticator (valid or not). */
  hasCredentials(req: AuthRequest): boolean;
  /** Authenticates `req`; rejects with an {@link AuthError}. */
  authenticate(req: AuthRequest): Promise<I>;
  /** The `WWW-Authenticate` value for a refusal (RFC 6750 §3), with the error class when there is one. */
  challenge(error?: AuthError): string;
  /** Middleware that sets `req.auth` and calls `next()`, or answers 400/401/403/503 with problem+json. */
  middleware(options?: MiddlewareOptions): AuthMiddleware;
  /** Middleware that answers 403 (`insufficient_scope`) unless `req.auth` grants `scopes`; refusals are reported on `denied`. */
  requireScopes(scopes: readonly string[], options?: { mode?: 'all' | 'any'; realm?: string }): AuthMiddleware;
  /** Listens to `denied`. */
  on<K extends keyof AuthEvents>(event: K, listener: (...args: AuthEvents[K]) => void): Disposable;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
