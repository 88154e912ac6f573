import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { ConnectionOptions } from 'node:tls';
import { createTrustedProxies, normalizeIp } from '@edgekit/geo';
import type { DispatcherDefaults } from '@edgekit/proxy';
import { type Dispatcher, Pool } from 'undici';
import type { GatewayConfig } from './config.js';
import type { UpstreamTlsSettings } from './config-schema/tls.js';

const trustedBy = new WeakMap<readonly string[], (ip: string) => boolean>();

/** The request's socket peer is one of `trustedProxies` (compiled once per configuration). */
export function trustedPeer(req: IncomingMessage, trustedProxies: readonly string[]): boolean {
  let isTrusted = trustedBy.get(trustedProxies);
  if (isTrusted === undefined) {
    isTrusted = createTrustedProxies([...trustedProxies]);
    trustedBy.set(trustedProxies, isTrusted);
  }
  const ip = normalizeIp(req.socket?.remoteAddress ?? '');
  return ip !== undefined && isTrusted(ip);
}

function readPemSync(value: string): string {
  return value.trimStart().startsWith('-----BEGIN') ? value : readFileSync(value, 'utf8');
}

/** Node TLS options for an upstream connection: verification on unless `insecureSkipVerify`. */
export function upstreamConnectOptions(settings: UpstreamTlsSettings | undefined): ConnectionOptions {
  if (settings === undefined) return {};
  return {
    rejectUnauthorized: !settings.insecureSkipVerify,
    ...(settings.ca === undefined ? {} : { ca: settings.ca.map(readPemSync) }),
    ...(settings.servername === undefined ? {} : { servername: settings.servername }),
    ...(settings.cert === undefined || settings.key === undefined ? {} : { cert: readPemSync(settings.cert), key: readPemSync(settings.key) }),
  };
}

interface UpstreamRegion {
  name: string;
  url: string;
  tls?: UpstreamTlsSettings | undefined;
}

/**
 * The forwarder's `dispatcher` option for regions with TLS settings (their own `tls`, else
 * `proxy.tls`): an undici `Pool` with those `connect` options, the forwarder's pool settings
 * otherwise. `undefined` when no region needs one (the forwarder's default pools then). Files are
 * read when the pipeline is built, so a configuration reload picks up rotated certificates.
 */
export function upstreamDispatcher(regions: readonly UpstreamRegion[], fallback: UpstreamTlsSettings | undefined): ((region: { name: string; url: string }, defaults: DispatcherDefaults) => Dispatcher) | undefined {
  const byName = new Map<string, ConnectionOptions>();
  for (const region of regions) {
    const settings = region.tls ?? fallback;
    if (settings !== undefined && region.url.startsWith('https:')) byName.set(region.name, upstreamConnectOptions(settings));
  }
  if (byName.size === 0) return undefined;
  return (region, defaults) =>
    new Pool(new URL(region.url).origin, {
      connections: defaults.connections,
      headersTimeout: defaults.headersTimeout,
      bodyTimeout: defaults.bodyTimeout,
      keepAliveTimeout: defaults.keepAliveTimeout,
      pipelining: 1,
      connect: { timeout: defaults.connectTimeout, ...byName.get(region.name) },
    });
}

/** Startup warnings: upstream certificate verification turned off. */
export function upstreamTlsWarnings(config: GatewayConfig): Array<{ msg: string; fields: Record<string, unknown> }> {
  const warnings: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const insecure = (tls: UpstreamTlsSettings | undefined): boolean => tls?.insecureSkipVerify === true;
  if (insecure(config.proxy.tls)) warnings.push({ msg: 'upstream TLS certificates are not verified (proxy.tls.insecureSkipVerify)', fields: { setting: 'proxy.tls.insecureSkipVerify' } });
  config.regions.forEach((region, i) => {
    if (insecure(region.tls)) warnings.push({ msg: `upstream TLS certificates of region "${region.name}" are not verified`, fields: { setting: `regions[${i}].tls.insecureSkipVerify` } });
  });
  return warnings;
}
