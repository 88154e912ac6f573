import { createRequire } from 'node:module';
import { GeoError } from './errors.js';

const SCOPE = '@edgekit/geo';

/** Where a resolver needs an optional peer dependency: named in the error when the peer is missing. */
export interface PeerRequest {
  /** The package to require, such as `'maxmind'` or `'geoip-lite'`. */
  readonly specifier: string;
  /** The version range to suggest installing, such as `'5'`. */
  readonly range: string;
  /** The resolver that needs it, reported as `GeoError.resolver`. */
  readonly resolver: string;
  /** The data file involved, when there is one. */
  readonly path?: string;
}

/** True when `error` says that `specifier` itself (not one of its own imports) could not be found. */
function isMissing(error: unknown, specifier: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  const message = String((error as Error).message);
  return message.includes(`'${specifier}'`) || message.includes(`"${specifier}"`);
}

function missingPeer(request: PeerRequest, cause: unknown): GeoError {
  return new GeoError(
    'EMISSINGPEER',
    `${SCOPE}: the ${request.resolver} resolver needs the optional peer dependency "${request.specifier}", which is not installed: run npm install ${request.specifier}@${request.range}`,
    { resolver: request.resolver, path: request.path, cause },
  );
}

/**
 * Requires an optional peer dependency when a resolver first needs it (never at import). A peer
 * that is not installed becomes `EMISSINGPEER` naming the package and the install command; a peer
 * that is installed but fails while loading becomes `EGEODATA` with the failure as `cause`.
 */
export function requirePeer<T>(request: PeerRequest, from: string = import.meta.url): T {
  const require = createRequire(from);
  try {
    return require(request.specifier) as T;
  } catch (error) {
    if (isMissing(error, request.specifier)) throw missingPeer(request, error);
    throw new GeoError('EGEODATA', `${SCOPE}: cannot load "${request.specifier}" for the ${request.resolver} resolver: ${(error as Error)?.message ?? String(error)}`, {
      resolver: request.resolver,
      path: request.path,
      cause: error,
    });
  }
}

/** Resolves an optional peer's entry file, with the same errors as {@link requirePeer}. */
export function resolvePeer(request: PeerRequest, from: string = import.meta.url): string {
  const require = createRequire(from);
  try {
    return require.resolve(request.specifier);
  } catch (error) {
    if (isMissing(error, request.specifier)) throw missingPeer(request, error);
    throw error;
  }
}
