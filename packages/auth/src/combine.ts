import { type Disposable, checkOptionsObject, optionalOneOf } from '@edgekit/core';
import { AuthBase } from './base.js';
import { AuthError } from './errors.js';
import { checkRealm } from './respond.js';
import type { AuthInfo, AuthRequest, Authenticator } from './types.js';

const SCOPE = '@edgekit/auth';

/** Options for {@link combineAuth}. */
export interface CombineAuthOptions {
  /**
   * A request carrying credentials of several members (a bearer token and an API key):
   * `reject` answers 400 `invalid_request`; `first` uses the first member, in the order given,
   * whose credentials are present. Default: `reject`.
   */
  onMultiple?: 'reject' | 'first';
  /** Realm used by `requireScopes` of the combination. Default: `api`. */
  realm?: string;
}

/** Defaults of {@link CombineAuthOptions}. */
export const COMBINE_DEFAULTS = { onMultiple: 'reject' } as const;

type AnyInfo<A extends readonly Authenticator<AuthInfo>[]> = A[number] extends Authenticator<infer I> ? I : AuthInfo;

class CombinedAuth<I extends AuthInfo> extends AuthBase<I> {
  readonly scheme = undefined;
  readonly #members: readonly Authenticator<AuthInfo>[];
  readonly #onMultiple: 'reject' | 'first';
  readonly #forwarding: Disposable[];
  #closed = false;

  constructor(members: readonly Authenticator<AuthInfo>[], options: CombineAuthOptions) {
    super(checkRealm(SCOPE, (options as CombineAuthOptions | undefined)?.realm, 'api'));
    if (!Array.isArray(members) || members.length === 0 || members.some((m) => typeof m?.authenticate !== 'function' || typeof m.hasCredentials !== 'function')) {
      throw new TypeError(`${SCOPE}: combineAuth(authenticators) needs a non-empty array of authenticators`);
    }
    const opts = checkOptionsObject<CombineAuthOptions>(SCOPE, options);
    this.#onMultiple = optionalOneOf(SCOPE, 'onMultiple', opts.onMultiple, ['reject', 'first'], COMBINE_DEFAULTS.onMultiple);
    this.#members = [...members];
    // Members report their own refusals; listeners of the combination hear them too.
    this.#forwarding = this.#members.map((member) => member.on('denied', (event) => this.events.emit('denied', event)));
  }

  hasCredentials(req: AuthRequest): boolean {
    for (const member of this.#members) if (member.hasCredentials(req)) return true;
    return false;
  }

  challenge(error?: AuthError): string {
    // RFC 9110 §11.6.1: several challenges in one header. The member whose credentials failed carries
    // the error class; a request-level error goes to the first member.
    const target = error?.error === undefined ? undefined : (this.#members.find((m) => m.scheme !== undefined && m.scheme === error.scheme) ?? this.#members[0]);
    return this.#members.map((member) => (member === target ? member.challenge(error) : member.challenge())).join(', ');
  }

  async authenticate(req: AuthRequest): Promise<I> {
    if (this.#closed) throw this.denied(new AuthError('EAUTHUNAVAILABLE', 'the combined authenticator is closed'), req);
    let chosen: Authenticator<AuthInfo> | undefined;
    let present = 0;
    for (const member of this.#members) {
      if (!member.hasCredentials(req)) continue;
      present++;
      chosen ??= member;
    }
    if (chosen === undefined) throw this.denied(new AuthError('ENOCREDENTIALS', 'no credentials of any accepted scheme'), req);
    if (present > 1 && this.#onMultiple === 'reject') {
      throw this.denied(new AuthError('EBADREQUEST', 'credentials of several schemes in one request'), req);
    }
    return (await chosen.authenticate(req)) as I;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const handle of this.#forwarding) handle.dispose();
    this.events.removeAllListeners();
  }
}

/**
 * Accepts any of several authenticators (a bearer JWT or an API key), choosing by which
 * credentials the request carries. Closing the combination leaves the members open.
 *
 * @example
 * const auth = combineAuth([jwt, apiKeys]);
 * app.use(auth.middleware(), auth.requireScopes(['orders:write']));
 */
export function combineAuth<A extends readonly Authenticator<AuthInfo>[]>(authenticators: A, options: CombineAuthOptions = {}): Authenticator<AnyInfo<A>> {
  return new CombinedAuth<AnyInfo<A>>(authenticators, options);
}
