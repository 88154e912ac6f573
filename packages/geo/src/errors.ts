import { EdgekitError, brandError } from '@edgekit/core';

/** Stable codes of {@link GeoError}. */
export type GeoErrorCode =
  /** `lookup()` was called on a resolver that loads its data in `ready()` before `ready()` resolved. */
  | 'ENOTREADY'
  /** An optional peer dependency (`maxmind`, `geoip-lite`) is not installed; the message says what to install. */
  | 'EMISSINGPEER'
  /** A data file could not be read or parsed. */
  | 'EGEODATA'
  /** The locator or resolver was closed. */
  | 'ECLOSED';

/** An error raised by a geolocation resolver: a stable `code`, the resolver's name and the data file involved. */
export class GeoError extends EdgekitError {
  declare readonly code: GeoErrorCode;
  /** Name of the resolver that failed (`'mmdb'`, `'geoip-lite'`, ...). */
  readonly resolver: string;
  /** The data file involved, when there is one. */
  readonly path: string | undefined;

  constructor(code: GeoErrorCode, message: string, context: { resolver: string; path?: string; cause?: unknown }) {
    super(code, message, context.cause === undefined ? undefined : { cause: context.cause });
    this.resolver = context.resolver;
    this.path = context.path;
  }
}

/** True for a {@link GeoError}, also one thrown by another copy of this package. */
export const isGeoError: (value: unknown) => value is GeoError = brandError(GeoError, 'edgekit.geo.error');
