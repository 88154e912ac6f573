import { type Disposable, type EventMap, TypedEmitter } from '@edgekit/core';
import type { AuthError, AuthScheme } from './errors.js';
import { type RequireScopesOptions, requireScopes, runAuthentication } from './middleware.js';
import { requestPath } from './request.js';
import type { AuthEvents, AuthInfo, AuthMiddleware, AuthRequest, Authenticator, MiddlewareOptions } from './types.js';

/** What every authenticator shares: the `denied` event, middleware and scope checks. */
export abstract class AuthBase<I extends AuthInfo, E extends EventMap & AuthEvents = AuthEvents> implements Authenticator<I> {
  protected readonly events = new TypedEmitter<E>();
  protected readonly realm: string;

  protected constructor(realm: string) {
    this.realm = realm;
  }

  abstract readonly scheme: AuthScheme | undefined;
  abstract hasCredentials(req: AuthRequest): boolean;
  abstract authenticate(req: AuthRequest): Promise<I>;
  abstract challenge(error?: AuthError): string;
  abstract close(): Promise<void>;

  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): Disposable {
    return this.events.on(event, listener);
  }

  middleware(options: MiddlewareOptions = {}): AuthMiddleware {
    const optional = options.optional === true;
    return (req, res, next) => {
      void runAuthentication(this, optional, req, res, next);
    };
  }

  /** Like the standalone {@link requireScopes}, reporting refusals on this authenticator's `denied` event. */
  requireScopes(scopes: readonly string[], options: Omit<RequireScopesOptions, 'onDenied'> = {}): AuthMiddleware {
    return requireScopes(scopes, { realm: this.realm, ...options, onDenied: (error, req) => this.denied(error, req) });
  }

  /** Reports a refusal on `denied` and returns the error, for `throw this.denied(...)`. */
  protected denied(error: AuthError, req: AuthRequest | undefined): AuthError {
    const events = this.events as unknown as TypedEmitter<AuthEvents>;
    if (events.hasListeners('denied')) {
      events.emit('denied', {
        code: error.code,
        status: error.status,
        scheme: error.scheme,
        reason: error.message,
        keyId: error.keyId,
        kid: error.kid,
        method: req?.method,
        path: req ? requestPath(req) : undefined,
        error,
      });
    }
    return error;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
