import type { JWTPayload } from 'jose';

const EMPTY: readonly string[] = Object.freeze([]);
const WHITESPACE = /\s+/;

function fromClaim(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.split(WHITESPACE).filter((s) => s.length > 0);
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string' && s.length > 0);
  return undefined;
}

/**
 * The default scope reader: the space-delimited `scope` claim (RFC 8693 §4.2), else `scp` (a
 * string or an array, as Azure AD and Okta issue it).
 */
export function scopesFromClaims(claims: JWTPayload): readonly string[] {
  const scopes = fromClaim(claims.scope) ?? fromClaim(claims.scp);
  return scopes === undefined || scopes.length === 0 ? EMPTY : Object.freeze(scopes);
}

/** Normalizes scopes an API-key origin returned. */
export function scopesFromPrincipal(value: unknown): readonly string[] {
  const scopes = fromClaim(value);
  return scopes === undefined || scopes.length === 0 ? EMPTY : Object.freeze(scopes);
}

/** True when `granted` holds every scope of `required` (`mode: 'all'`) or at least one (`'any'`). */
export function hasScopes(granted: readonly string[], required: readonly string[], mode: 'all' | 'any' = 'all'): boolean {
  if (required.length === 0) return true;
  if (mode === 'any') {
    for (const scope of required) if (granted.includes(scope)) return true;
    return false;
  }
  for (const scope of required) if (!granted.includes(scope)) return false;
  return true;
}
