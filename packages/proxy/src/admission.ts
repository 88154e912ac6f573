import type { IncomingMessage } from 'node:http';
import { RequestTargetError, canonicalizeRequestTarget } from '@edgekit/core';
import type { Region } from '@edgekit/geo';
import type { SkipReason } from './events.js';
import type { HealthSource } from './options.js';
import type { ResolvedOptions } from './options-resolve.js';

/**
 * The canonical path and query of the request target (absolute-form reduced to its path), or
 * why it cannot be forwarded: a target that is not canonical is refused unless the forwarder
 * normalises, since what routed it before saw another path.
 */
export function targetPath(url: string, method: string, nonCanonicalTarget: ResolvedOptions['nonCanonicalTarget']): string | RequestTargetError {
  let canonical;
  try {
    canonical = canonicalizeRequestTarget(url, { method });
  } catch (error) {
    return error as RequestTargetError;
  }
  if (canonical.form === 'asterisk') return new RequestTargetError('form', 'the asterisk-form target is not forwarded');
  if (canonical.changed && nonCanonicalTarget === 'refuse') {
    return new RequestTargetError('form', 'the path is not canonical (dot segments, repeated slashes or escaped unreserved characters)');
  }
  return canonical.target;
}

/** The key a request counts against for `maxInFlightPerClient`: `clientKey`'s answer, or the client address. */
export function clientKeyOf(options: ResolvedOptions, req: IncomingMessage, ip: string): string {
  if (options.clientKey === undefined) return ip;
  try {
    return String(options.clientKey(req, ip));
  } catch {
    return ip;
  }
}

/** The route for failure attribution: `routeKey`'s answer, or the path without its query. */
export function routeOf(options: ResolvedOptions, req: IncomingMessage, path: string): string | undefined {
  const routeKey = options.routeKey;
  if (routeKey !== undefined) {
    try {
      return String(routeKey(req, path));
    } catch {
      return undefined;
    }
  }
  const query = path.indexOf('?');
  return query === -1 ? path : path.slice(0, query);
}

/** The candidates left once unhealthy regions are skipped. */
export interface HealthyCandidates {
  candidates: readonly Region[];
  skipped: Array<{ region: string; reason: SkipReason }> | undefined;
  /** Every region looked down, so none was skipped. */
  healthIgnored: boolean;
}

/** Drops the regions whose health checks fail; keeps them all when every one looks down. */
export function healthyCandidates(candidates: readonly Region[], health: HealthSource | undefined): HealthyCandidates {
  if (health === undefined) return { candidates, skipped: undefined, healthIgnored: false };
  let healthy: Region[] | undefined;
  let skipped: Array<{ region: string; reason: SkipReason }> | undefined;
  for (let i = 0; i < candidates.length; i++) {
    const region = candidates[i]!;
    let ok: boolean;
    try {
      ok = health.isHealthy(region.name) !== false;
    } catch {
      ok = true;
    }
    if (ok) {
      healthy?.push(region);
    } else {
      healthy ??= candidates.slice(0, i);
      (skipped ??= []).push({ region: region.name, reason: 'unhealthy' });
    }
  }
  if (healthy === undefined) return { candidates, skipped: undefined, healthIgnored: false };
  // Every region looks down: the checks may be what is broken, so try them all, primary first.
  if (healthy.length === 0) return { candidates, skipped: undefined, healthIgnored: true };
  return { candidates: healthy, skipped, healthIgnored: false };
}

/** Whether the region's health checks pass (`false` without a health source or when it cannot answer). */
export function passesHealth(health: HealthSource | undefined, region: string): boolean {
  if (health === undefined) return false;
  try {
    return health.isHealthy(region) === true;
  } catch {
    return false;
  }
}
