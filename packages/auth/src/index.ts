export { DEFAULT_ALGORITHMS, type JwtAlgorithm, PUBLIC_KEY_ALGORITHMS } from './algorithms.js';
export {
  API_KEY_DEFAULTS,
  type ApiKeyAuthOptions,
  type ApiKeyAuthenticator,
  type ApiKeyEvents,
  type ApiKeyStats,
  type ApiKeyValidateContext,
  type ApiKeyValidator,
  type KeyChangeEvent,
} from './api-key-authenticator.js';
export { createApiKeyAuth } from './api-key.js';
export { hashApiKey } from './key-revocation.js';
export { COMBINE_DEFAULTS, type CombineAuthOptions, combineAuth } from './combine.js';
export { AuthError, type AuthErrorCode, type AuthErrorContext, type AuthScheme, type ChallengeError, isAuthError } from './errors.js';
export {
  type FetchLike,
  JWKS_DEFAULTS,
  type JwksCache,
  type JwksCacheOptions,
  type JwksEvents,
  type JwksFetchReason,
  type JwksSnapshot,
  createJwksCache,
} from './jwks.js';
export { JWT_DEFAULTS, type JwtAuthOptions, type JwtAuthenticator, createJwtAuth } from './jwt.js';
export type { PublicKeyInput, StaticKey } from './keys.js';
export { type RequireScopesOptions, requireScopes } from './middleware.js';
export { buildChallenge, problemFor, sendAuthError } from './respond.js';
export { hasScopes, scopesFromClaims } from './scopes.js';
export type {
  ApiKeyAuthInfo,
  ApiKeyPrincipal,
  AuthEvents,
  AuthInfo,
  AuthMiddleware,
  AuthRequest,
  Authenticator,
  DeniedEvent,
  JwtAuthInfo,
  MiddlewareOptions,
} from './types.js';
