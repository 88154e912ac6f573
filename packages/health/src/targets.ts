import { type UpstreamTlsOptions, describeValue, resolveUpstreamTls } from '@edgekit/core';
import { HealthCheckError } from './errors.js';
import { type HttpProbeTarget, messageOf } from './http-probe.js';

/** What a custom probe receives. */
export interface ProbeContext {
  /** The target name (a region). */
  name: string;
  /** The target URL, when one was configured. */
  url: string | undefined;
  /** Aborted when the probe times out, the target is removed or the checker closes: pass it to your I/O. */
  signal: AbortSignal;
}

/**
 * A custom check for non-HTTP dependencies (a Redis `PING`, a TCP connect, a SQL `SELECT 1`). It
 * passes when it returns or resolves to anything but `false`, and fails when it throws, rejects or
 * resolves to `false`. It runs under the checker's `timeout`; honour `signal` so the work stops too.
 */
export type HealthProbe = (context: ProbeContext) => unknown;

/** One thing to check, usually a region. */
export interface HealthTarget {
  /** Unique name; the key of `isHealthy(name)`, usually the region name. */
  name: string;
  /** Base URL (`http:` or `https:`) for the built-in HTTP probe; the probe requests `url` + `path`. */
  url?: string;
  /** Path for this target, overriding the checker's `path`. */
  path?: string;
  /** A custom probe for this target, overriding the checker's `probe` and the HTTP probe. */
  probe?: HealthProbe;
  /** TLS of the built-in HTTP probe to an `https:` URL (CAs, servername, client certificate, `insecureSkipVerify`), as the forwarder's `tls`. Default: Node's CAs, verified. */
  tls?: UpstreamTlsOptions;
}

/** A validated target. */
export interface ResolvedTarget {
  readonly name: string;
  readonly url: string | undefined;
  readonly path: string;
  readonly probe: HealthProbe | undefined;
  /** Set when the built-in HTTP probe checks this target. */
  readonly http: HttpProbeTarget | undefined;
}

// RFC 9110 §4.1: a path is printable ASCII without spaces; control characters would split the request line.
const PATH_PATTERN = /^\/[\x21-\x7e]*$/;

/** Checks a `path` option: an absolute path without spaces or control characters. */
export function checkPath(scope: string, name: string, value: unknown): string {
  if (typeof value !== 'string' || !PATH_PATTERN.test(value)) {
    throw new TypeError(`${scope}: option "${name}" must be a path starting with "/" without spaces or control characters (got ${describeValue(value)})`);
  }
  return value;
}

/** Validates a target list: unique names, a usable URL or a probe for each. */
export function resolveTargets(scope: string, targets: unknown, defaultPath: string, defaultProbe: HealthProbe | undefined): ResolvedTarget[] {
  if (!Array.isArray(targets)) throw new TypeError(`${scope}: option "targets" must be an array (got ${describeValue(targets)})`);
  const seen = new Set<string>();
  return targets.map((target: unknown, i): ResolvedTarget => {
    const at = `targets[${i}]`;
    if (target === null || typeof target !== 'object' || Array.isArray(target)) {
      throw new TypeError(`${scope}: option "${at}" must be an object like { name, url } (got ${describeValue(target)})`);
    }
    const { name, url, path, probe, tls } = target as Record<string, unknown>;
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(`${scope}: option "${at}.name" must be a non-empty string (got ${describeValue(name)})`);
    }
    if (seen.has(name)) throw new TypeError(`${scope}: option "${at}.name" repeats the target name ${describeValue(name)}`);
    seen.add(name);
    if (probe !== undefined && typeof probe !== 'function') {
      throw new TypeError(`${scope}: option "${at}.probe" must be a function (got ${describeValue(probe)})`);
    }
    const ownPath = path === undefined ? defaultPath : checkPath(scope, `${at}.path`, path);
    const customProbe = (probe as HealthProbe | undefined) ?? defaultProbe;
    let parsed: URL | undefined;
    if (url !== undefined) {
      if (typeof url === 'string') {
        try {
          parsed = new URL(url);
        } catch {
          parsed = undefined;
        }
      }
      if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
        throw new TypeError(`${scope}: option "${at}.url" must be an absolute http: or https: URL (got ${describeValue(url)})`);
      }
    } else if (customProbe === undefined) {
      throw new TypeError(`${scope}: option "${at}.url" is required when no probe is given (target ${describeValue(name)})`);
    }
    const connect = tls === undefined ? undefined : resolveUpstreamTls(scope, `${at}.tls`, tls);
    const http =
      customProbe === undefined && parsed !== undefined
        ? { name, origin: parsed.origin, path: `${parsed.pathname.replace(/\/+$/, '')}${ownPath}`, ...(connect !== undefined && parsed.protocol === 'https:' && { tls: connect, tlsKey: tlsKeyOf(connect) }) }
        : undefined;
    return { name, url: url as string | undefined, path: ownPath, probe: customProbe, http };
  });
}

/** The identity of a TLS setting (by content, so a reload that rereads the same files keeps the target). */
function tlsKeyOf(connect: object): string {
  return JSON.stringify(connect, (_key, value: unknown) => (value !== null && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' ? Buffer.from((value as { data: number[] }).data).toString('latin1') : value));
}

/** Runs a target's custom probe: `false` is a failure. */
export async function runCustomProbe(config: ResolvedTarget, signal: AbortSignal): Promise<undefined> {
  const result = await (config.probe as HealthProbe)({ name: config.name, url: config.url, signal });
  if (result === false) throw new HealthCheckError('EPROBEFAILED', `${config.name}: probe returned false`, { target: config.name });
  return undefined;
}

/** The error a failed probe reports: the abort reason (timeout, removal) first, then the probe's own error, coded. */
export function toProbeError(name: string, error: unknown, signal: AbortSignal): HealthCheckError {
  // After an abort, undici reports the abort in its own words: the reason says what happened.
  if (signal.aborted && signal.reason instanceof HealthCheckError) return signal.reason;
  if (error instanceof HealthCheckError) return error;
  return new HealthCheckError('EPROBEFAILED', `${name}: ${messageOf(error)}`, { target: name, cause: error });
}
