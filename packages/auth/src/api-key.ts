import type { Bus, BusGap, BusMeta } from '@edgekit/bus';
import {
  type Clock,
  type ClockTimer,
  type Disposable,
  checkOptionsObject,
  describeValue,
  optionalFunction,
  optionalNumber,
  optionalString,
  systemClock,
} from '@edgekit/core';
import { LRUCache } from 'lru-cache';
import {
  API_KEY_DEFAULTS,
  type ApiKeyAuthOptions,
  type ApiKeyAuthenticator,
  type ApiKeyEvents,
  type ApiKeyStats,
  type ApiKeyValidator,
  type KeyChangeEvent,
} from './api-key-authenticator.js';
import { AuthBase } from './base.js';
import { AuthError, isAuthError } from './errors.js';
import { type BusMessage, KEY_HASH, hashApiKey, isBusMessage } from './key-revocation.js';
import { MALFORMED_REQUEST, readHeaderCredential } from './request.js';
import { buildChallenge, checkRealm } from './respond.js';
import { scopesFromPrincipal } from './scopes.js';
import type { ApiKeyAuthInfo, ApiKeyPrincipal, AuthRequest } from './types.js';

const SCOPE = '@edgekit/auth';

// RFC 9110 §5.1 field-name (token), lower case.
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
const ignore = (): void => {};

interface CachedValid<P extends ApiKeyPrincipal> {
  info: ApiKeyAuthInfo<P>;
  validatedAt: number;
}

type Outcome<P extends ApiKeyPrincipal> = { kind: 'valid'; info: ApiKeyAuthInfo<P> } | { kind: 'invalid' } | { kind: 'error'; error: Error };

interface Flight<P extends ApiKeyPrincipal> {
  promise: Promise<Outcome<P>>;
  /** Cache generation at start: a flush since then means the answer must not be cached. */
  generation: number;
  /** Set when a revocation or invalidation for this key arrived while the origin call was in flight. */
  poisoned: 'revoke' | 'invalidate' | undefined;
  controller: AbortController;
}

function isPrintableAscii(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

class ApiKeyAuth<P extends ApiKeyPrincipal> extends AuthBase<ApiKeyAuthInfo<P>, ApiKeyEvents> implements ApiKeyAuthenticator<P> {
  readonly scheme = 'apiKey' as const;
  readonly #validate: ApiKeyValidator<P>;
  readonly #bus: Bus | undefined;
  readonly #channel: string;
  readonly #header: string;
  readonly #ttl: number;
  readonly #ttlFor: ((req: AuthRequest) => number | undefined) | undefined;
  readonly #maxTtl: number;
  readonly #negativeTtl: number;
  readonly #revokedTtl: number;
  readonly #staleIfError: number;
  readonly #validateTimeout: number;
  readonly #minKeyLength: number;
  readonly #maxKeyLength: number;
  readonly #clock: Clock;
  readonly #valid: LRUCache<string, CachedValid<P>>;
  readonly #invalid: LRUCache<string, number>;
  readonly #revoked: LRUCache<string, number>;
  readonly #inflight = new Map<string, Flight<P>>();
  readonly #subscriptions: Disposable[] = [];
  readonly #bareChallenge: string;
  #generation = 0;
  #gap = false;
  #closed = false;
  readonly #counters = { hits: 0, negativeHits: 0, misses: 0, originCalls: 0, originErrors: 0, revocations: 0 };

  constructor(options: ApiKeyAuthOptions<P>) {
    const opts = checkOptionsObject<ApiKeyAuthOptions<P>>(SCOPE, options);
    super(checkRealm(SCOPE, opts.realm, API_KEY_DEFAULTS.realm));
    if (typeof opts.validate !== 'function') throw new TypeError(`${SCOPE}: option "validate" is required: an async function (key) => principal | null (got ${describeValue(opts.validate)})`);
    this.#validate = opts.validate;
    if (opts.bus !== undefined && (typeof opts.bus !== 'object' || opts.bus === null || typeof opts.bus.subscribe !== 'function' || typeof opts.bus.publish !== 'function')) {
      throw new TypeError(`${SCOPE}: option "bus" must be an @edgekit/bus Bus (got ${describeValue(opts.bus)})`);
    }
    this.#bus = opts.bus;
    this.#channel = optionalString(SCOPE, 'channel', opts.channel, API_KEY_DEFAULTS.channel);
    const header = optionalString(SCOPE, 'header', opts.header, API_KEY_DEFAULTS.header);
    if (!HEADER_NAME.test(header)) throw new TypeError(`${SCOPE}: option "header" must be a lower-case header name (got ${describeValue(header)})`);
    if (header === 'authorization') throw new TypeError(`${SCOPE}: option "header" must not be "authorization" (bearer tokens use it)`);
    this.#header = header;
    this.#maxTtl = optionalNumber(SCOPE, 'maxTtl', opts.maxTtl, API_KEY_DEFAULTS.maxTtl, { min: 0 });
    this.#ttl = optionalNumber(SCOPE, 'ttl', opts.ttl, Math.min(API_KEY_DEFAULTS.ttl, this.#maxTtl), { min: 0, max: this.#maxTtl });
    this.#ttlFor = optionalFunction<(req: AuthRequest) => number | undefined, undefined>(SCOPE, 'ttlFor', opts.ttlFor, undefined);
    this.#negativeTtl = optionalNumber(SCOPE, 'negativeTtl', opts.negativeTtl, API_KEY_DEFAULTS.negativeTtl, { min: 0 });
    this.#revokedTtl = optionalNumber(SCOPE, 'revokedTtl', opts.revokedTtl, API_KEY_DEFAULTS.revokedTtl, { min: 0 });
    this.#staleIfError = optionalNumber(SCOPE, 'staleIfError', opts.staleIfError, API_KEY_DEFAULTS.staleIfError, { min: 0 });
    this.#validateTimeout = optionalNumber(SCOPE, 'validateTimeout', opts.validateTimeout, API_KEY_DEFAULTS.validateTimeout, { min: 1 });
    const max = optionalNumber(SCOPE, 'max', opts.max, API_KEY_DEFAULTS.max, { min: 1, integer: true });
    const negativeMax = optionalNumber(SCOPE, 'negativeMax', opts.negativeMax, API_KEY_DEFAULTS.negativeMax, { min: 1, integer: true });
    this.#minKeyLength = optionalNumber(SCOPE, 'minKeyLength', opts.minKeyLength, API_KEY_DEFAULTS.minKeyLength, { min: 1, integer: true });
    this.#maxKeyLength = optionalNumber(SCOPE, 'maxKeyLength', opts.maxKeyLength, API_KEY_DEFAULTS.maxKeyLength, { min: this.#minKeyLength, max: 8_192, integer: true });
    this.#clock = opts.clock ?? systemClock;
    this.#valid = new LRUCache({ max });
    this.#invalid = new LRUCache({ max: negativeMax });
    this.#revoked = new LRUCache({ max });
    this.#bareChallenge = buildChallenge('ApiKey', this.realm, undefined);
    if (this.#bus) {
      this.#subscriptions.push(this.#bus.subscribe(this.#channel, (payload, meta) => this.#onMessage(payload, meta)));
      this.#subscriptions.push(this.#bus.on('gap', (gap) => this.#onGap(gap)));
    }
  }

  hasCredentials(req: AuthRequest): boolean {
    return req.headers[this.#header] !== undefined;
  }

  challenge(error?: AuthError): string {
    return error?.error === undefined ? this.#bareChallenge : buildChallenge('ApiKey', this.realm, error.error);
  }

  async authenticate(req: AuthRequest): Promise<ApiKeyAuthInfo<P>> {
    const key = readHeaderCredential(req, this.#header);
    if (key === undefined) throw this.denied(new AuthError('ENOCREDENTIALS', `no ${this.#header} header in the request`, { scheme: 'apiKey' }), req);
    if (key === MALFORMED_REQUEST) throw this.denied(new AuthError('EBADREQUEST', `duplicated or empty ${this.#header} header`, { scheme: 'apiKey' }), req);
    const maxAge = this.#maxAgeFor(req);
    try {
      return await this.#check(key, maxAge);
    } catch (error) {
      throw isAuthError(error) ? this.denied(error, req) : error;
    }
  }

  async check(key: string, options: { maxAge?: number } = {}): Promise<ApiKeyAuthInfo<P>> {
    const maxAge = options.maxAge === undefined ? this.#ttl : Math.min(this.#maxTtl, optionalNumber(SCOPE, 'maxAge', options.maxAge, 0, { min: 0 }));
    try {
      return await this.#check(key, maxAge);
    } catch (error) {
      throw isAuthError(error) ? this.denied(error, undefined) : error;
    }
  }

  #maxAgeFor(req: AuthRequest): number {
    if (this.#ttlFor === undefined) return this.#ttl;
    const value = this.#ttlFor(req);
    if (value === undefined) return this.#ttl;
    if (typeof value !== 'number' || !(value >= 0)) throw new TypeError(`${SCOPE}: option "ttlFor" must return a number of ms >= 0 or undefined (got ${describeValue(value)})`);
    return value > this.#maxTtl ? this.#maxTtl : value;
  }

  /** True when cached answers may be used: no bus, or a connected bus with no open gap. */
  #trusted(): boolean {
    return this.#bus === undefined || (!this.#gap && this.#bus.connected);
  }

  async #check(key: string, maxAge: number): Promise<ApiKeyAuthInfo<P>> {
    if (this.#closed) throw new AuthError('EAUTHUNAVAILABLE', 'the API-key authenticator is closed', { scheme: 'apiKey' });
    if (typeof key !== 'string' || key.length < this.#minKeyLength || key.length > this.#maxKeyLength || !isPrintableAscii(key)) {
      throw new AuthError('EKEYINVALID', 'the API key is malformed', { scheme: 'apiKey' });
    }
    const hash = hashApiKey(key);
    const now = this.#clock.now();
    const revokedAt = this.#revoked.get(hash);
    if (revokedAt !== undefined && now - revokedAt < this.#revokedTtl) {
      throw new AuthError('EKEYREVOKED', 'the API key was revoked', { scheme: 'apiKey', keyId: hash.slice(0, 12) });
    }
    const trusted = this.#trusted();
    const cached = trusted ? this.#valid.get(hash) : undefined;
    if (cached !== undefined) {
      const age = now - cached.validatedAt;
      if (age < maxAge) {
        this.#counters.hits++;
        return cached.info;
      }
      if (age >= this.#maxTtl + this.#staleIfError) this.#valid.delete(hash);
    }
    if (trusted) {
      const deniedAt = this.#invalid.get(hash);
      if (deniedAt !== undefined && now - deniedAt < this.#negativeTtl) {
        this.#counters.negativeHits++;
        throw new AuthError('EKEYINVALID', 'the API key is invalid (cached answer)', { scheme: 'apiKey', keyId: hash.slice(0, 12) });
      }
    }
    this.#counters.misses++;
    let flight = this.#inflight.get(hash);
    if (flight === undefined) {
      flight = this.#startFlight(key, hash);
    }
    const outcome = await flight.promise;
    const keyId = hash.slice(0, 12);
    if (flight.poisoned === 'revoke') throw new AuthError('EKEYREVOKED', 'the API key was revoked while the origin was asked', { scheme: 'apiKey', keyId });
    if (outcome.kind === 'valid') return outcome.info;
    if (outcome.kind === 'invalid') throw new AuthError('EKEYINVALID', 'the origin does not know the API key', { scheme: 'apiKey', keyId });
    // The origin failed: a recent enough "valid" answer may stand in, if allowed and still trusted.
    if (this.#staleIfError > 0 && cached !== undefined && this.#trusted() && this.#valid.get(hash) === cached) {
      if (this.#clock.now() - cached.validatedAt < maxAge + this.#staleIfError) return cached.info;
    }
    throw new AuthError('EAUTHUNAVAILABLE', `the API-key origin failed: ${outcome.error.message}`, { scheme: 'apiKey', keyId, cause: outcome.error });
  }

  #startFlight(key: string, hash: string): Flight<P> {
    const flight: Flight<P> = {
      promise: undefined as unknown as Promise<Outcome<P>>,
      generation: this.#generation,
      poisoned: undefined,
      controller: new AbortController(),
    };
    this.#inflight.set(hash, flight);
    flight.promise = this.#askOrigin(key, hash, flight);
    return flight;
  }

  async #askOrigin(key: string, hash: string, flight: Flight<P>): Promise<Outcome<P>> {
    this.#counters.originCalls++;
    const keyId = hash.slice(0, 12);
    const startedAt = this.#clock.now();
    const { signal } = flight.controller;
    let timer: ClockTimer | undefined;
    let outcome: Outcome<P>;
    try {
      // The race makes the timeout hold even for a `validate` that ignores its signal.
      const aborted = new Promise<never>((_, reject) => {
        timer = this.#clock.setTimeout(() => flight.controller.abort(new Error(`validate timed out after ${this.#validateTimeout} ms`)), this.#validateTimeout);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
      // Nobody awaits it once `validate` has answered; a later abort (close) must not go unhandled.
      aborted.catch(ignore);
      const result = await Promise.race([Promise.resolve().then(() => this.#validate(key, { signal, keyId })), aborted]);
      if (result === null || result === undefined || result === false) {
        outcome = { kind: 'invalid' };
      } else if (typeof result === 'object') {
        const principal = Object.freeze(result);
        const info: ApiKeyAuthInfo<P> = Object.freeze({
          scheme: 'apiKey',
          subject: typeof principal.subject === 'string' ? principal.subject : undefined,
          scopes: scopesFromPrincipal(principal.scopes),
          principal,
          keyId,
        });
        outcome = { kind: 'valid', info };
      } else {
        outcome = { kind: 'error', error: new TypeError(`${SCOPE}: option "validate" must resolve to a principal object or null (got ${describeValue(result)})`) };
      }
    } catch (error) {
      outcome = { kind: 'error', error: error instanceof Error ? error : new Error(String(error)) };
    } finally {
      this.#clock.clearTimeout(timer);
      if (this.#inflight.get(hash) === flight) this.#inflight.delete(hash);
    }
    if (outcome.kind === 'error') {
      this.#counters.originErrors++;
      if (this.events.hasListeners('originError')) this.events.emit('originError', { keyId, error: outcome.error });
      return outcome;
    }
    // Cache only an answer nothing has overtaken: no revocation, invalidation or flush since the call
    // started, and a bus that is still trusted. Its age counts from the start of the call.
    if (flight.poisoned === undefined && flight.generation === this.#generation && this.#trusted() && !this.#closed) {
      if (outcome.kind === 'valid') {
        this.#valid.set(hash, { info: outcome.info, validatedAt: startedAt });
        this.#invalid.delete(hash);
      } else if (this.#negativeTtl > 0) {
        this.#invalid.set(hash, startedAt);
        this.#valid.delete(hash);
      }
    }
    return outcome;
  }

  #onMessage(payload: unknown, meta: BusMeta): void {
    // Changes made on this node were applied before publishing.
    if (meta.local || this.#closed || !isBusMessage(payload)) return;
    this.#apply(payload, meta.origin, meta.sentAt);
  }

  #apply(message: BusMessage, origin: string, sentAt: number): void {
    const now = this.#clock.now();
    if (message.op === 'clear') {
      this.#flush('invalidateAll');
      return;
    }
    const hash = message.h as string;
    this.#valid.delete(hash);
    this.#invalid.delete(hash);
    const flight = this.#inflight.get(hash);
    if (flight) {
      // Requests that arrive from now on start a fresh origin call instead of joining this one.
      this.#inflight.delete(hash);
      if (flight.poisoned !== 'revoke') flight.poisoned = message.op;
    }
    const event: KeyChangeEvent = { keyId: hash.slice(0, 12), keyHash: hash, origin, sentAt, receivedAt: now };
    if (message.op === 'revoke') {
      this.#counters.revocations++;
      if (this.#revokedTtl > 0) this.#revoked.set(hash, now);
      if (this.events.hasListeners('revoked')) this.events.emit('revoked', event);
    } else if (this.events.hasListeners('invalidated')) {
      this.events.emit('invalidated', event);
    }
  }

  #flush(reason: 'disconnected' | 'reconnected' | 'invalidateAll'): void {
    this.#generation++;
    this.#valid.clear();
    this.#invalid.clear();
    for (const flight of this.#inflight.values()) flight.poisoned ??= 'invalidate';
    this.#inflight.clear();
    if (this.events.hasListeners('flushed')) this.events.emit('flushed', { reason, at: this.#clock.now() });
  }

  #onGap(gap: BusGap): void {
    if (this.#closed) return;
    // While disconnected a revocation may be missed: nothing cached is trusted until the bus is back,
    // and what was cached before is dropped then, since it may have been revoked meanwhile.
    this.#gap = gap.kind === 'disconnected';
    this.#flush(gap.kind);
  }

  async #publish(message: BusMessage): Promise<void> {
    if (this.#closed) throw new Error(`${SCOPE}: the API-key authenticator is closed`);
    const bus = this.#bus;
    this.#apply(message, bus ? bus.nodeId : 'local', this.#clock.now());
    if (bus) await bus.publish(this.#channel, message);
  }

  revoke(key: string): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) return Promise.reject(new TypeError(`${SCOPE}: revoke(key) needs a non-empty string`));
    return this.#publish({ v: 1, op: 'revoke', h: hashApiKey(key) });
  }

  revokeHash(keyHash: string): Promise<void> {
    const hash = typeof keyHash === 'string' ? keyHash.toLowerCase() : '';
    if (!KEY_HASH.test(hash)) return Promise.reject(new TypeError(`${SCOPE}: revokeHash(keyHash) needs a SHA-256 in hex (64 characters)`));
    return this.#publish({ v: 1, op: 'revoke', h: hash });
  }

  invalidate(key: string): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) return Promise.reject(new TypeError(`${SCOPE}: invalidate(key) needs a non-empty string`));
    return this.#publish({ v: 1, op: 'invalidate', h: hashApiKey(key) });
  }

  invalidateAll(): Promise<void> {
    return this.#publish({ v: 1, op: 'clear' });
  }

  stats(): ApiKeyStats {
    return {
      ...this.#counters,
      entries: this.#valid.size,
      negativeEntries: this.#invalid.size,
      revokedEntries: this.#revoked.size,
      trusted: this.#trusted(),
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const subscription of this.#subscriptions.splice(0)) subscription.dispose();
    for (const flight of this.#inflight.values()) flight.controller.abort(new Error('the API-key authenticator was closed'));
    this.#inflight.clear();
    this.#valid.clear();
    this.#invalid.clear();
    this.events.removeAllListeners();
  }
}

/**
 * Creates an {@link ApiKeyAuthenticator}. Keys are hashed (SHA-256) before they are used as cache
 * keys or broadcast; the raw key only ever goes to `validate`.
 *
 * @example
 * const apiKeys = createApiKeyAuth({ validate: (key, { signal }) => identity.lookup(key, { signal }), bus,
 *   ttlFor: (req) => (req.method === 'GET' ? 60_000 : 5_000) });
 * app.use(apiKeys.middleware());
 */
export function createApiKeyAuth<P extends ApiKeyPrincipal = ApiKeyPrincipal>(options: ApiKeyAuthOptions<P>): ApiKeyAuthenticator<P> {
  return new ApiKeyAuth(options);
}
