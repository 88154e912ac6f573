import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createTrustedProxies, normalizeIp } from '@edgekit/geo';
import type { UpstreamTlsOptions } from '@edgekit/proxy';
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

/** The forwarder's TLS options for one upstream: the configured files read, verification on unless `insecureSkipVerify`. */
export function upstreamTlsOptions(settings: UpstreamTlsSettings): UpstreamTlsOptions {
  return {
    insecureSkipVerify: settings.insecureSkipVerify,
    ...(settings.ca === undefined ? {} : { ca: settings.ca.map(readPemSync) }),
    ...(settings.servername === undefined ? {} : { servername: settings.servername }),
    ...(settings.cert === undefined || settings.key === undefined ? {} : { cert: readPemSync(settings.cert), key: readPemSync(settings.key) }),
  };
}

interface UpstreamRegion {
  name: string;
  tls?: UpstreamTlsSettings | undefined;
}

/**
 * The forwarder's `tls` option for `regions` (a region's own `tls`, else `proxy.tls`), applied by
 * the forwarder to `https://` region URLs and endpoints, over HTTP/1.1 and HTTP/2. `undefined`
 * when no TLS setting is configured (Node's CAs then). Files are read when the forwarder is built,
 * so a configuration reload picks up rotated certificates.
 */
export function upstreamTls(regions: readonly UpstreamRegion[], fallback: UpstreamTlsSettings | undefined): ((region: { name: string }) => UpstreamTlsOptions | undefined) | undefined {
  const byName = new Map<string, UpstreamTlsOptions>();
  const shared = fallback === undefined ? undefined : upstreamTlsOptions(fallback);
  for (const region of regions) {
    const options = region.tls === undefined ? shared : upstreamTlsOptions(region.tls);
    if (options !== undefined) byName.set(region.name, options);
  }
  if (byName.size === 0) return undefined;
  return (region) => byName.get(region.name);
}

/** A health probe target with the TLS settings of its region, when it has any. */
export function withTls<T extends object>(target: T, tls: UpstreamTlsOptions | undefined): T & { tls?: UpstreamTlsOptions } {
  return tls === undefined ? target : { ...target, tls };
}

/** Startup warnings: upstream certificate verification turned off. */
export function upstreamTlsWarnings(config: GatewayConfig): Array<{ msg: string; fields: Record<string, unknown> }> {
  const warnings: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const insecure = (tls: UpstreamTlsSettings | undefined): boolean => tls?.insecureSkipVerify === true;
  if (insecure(config.proxy.tls)) warnings.push({ msg: 'upstream TLS certificates are not verified (proxy.tls.insecureSkipVerify)', fields: { setting: 'proxy.tls.insecureSkipVerify' } });
  config.regions.forEach((region, i) => {
    if (insecure(region.tls)) warnings.push({ msg: `upstream TLS certificates of region "${region.name}" are not verified`, fields: { setting: `regions[${i}].tls.insecureSkipVerify` } });
  });
  config.services.forEach((service, s) => {
    service.regions.forEach((region, i) => {
      if (insecure(region.tls)) warnings.push({ msg: `upstream TLS certificates of region "${region.name}" of service "${service.name}" are not verified`, fields: { setting: `services[${s}].regions[${i}].tls.insecureSkipVerify` } });
    });
  });
  return warnings;
}
