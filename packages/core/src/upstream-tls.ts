import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { describeValue } from './options.js';

/**
 * TLS towards an `https:` upstream (the forwarder's region URLs and endpoints, HTTP/1.1 and
 * HTTP/2, and the health checker's probes). The upstream certificate is verified against Node's
 * CAs (or `ca`) and the host name (or `servername`) unless `insecureSkipVerify` is `true`.
 */
export interface UpstreamTlsOptions {
  /** CAs the upstream certificate must chain to (PEM text), replacing Node's bundled CAs. Default: Node's CAs. */
  ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Name sent by SNI and checked against the upstream certificate. Default: the URL's host name (no SNI for an IP address). */
  servername?: string;
  /** Client certificate chain (PEM text) presented to the upstream (mTLS), with `key`. Default: none. */
  cert?: string | Buffer;
  /** Private key (PEM text) of `cert`. Default: none. */
  key?: string | Buffer;
  /** Accept any upstream certificate (no verification). Default: `false`. */
  insecureSkipVerify?: boolean;
}

const FIELDS: ReadonlySet<string> = new Set(['ca', 'servername', 'cert', 'key', 'insecureSkipVerify']);

const isPem = (value: unknown): value is string | Buffer => (typeof value === 'string' && value.length > 0) || Buffer.isBuffer(value);

/**
 * Validates {@link UpstreamTlsOptions} (`scope` and `option` name them in messages) and returns the
 * Node TLS options of a connection, verification on unless `insecureSkipVerify`.
 */
export function resolveUpstreamTls(scope: string, option: string, value: unknown): ConnectionOptions {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${scope}: option "${option}" must be an object with ca, servername, cert, key or insecureSkipVerify (got ${describeValue(value)})`);
  }
  const tls = value as Record<string, unknown>;
  for (const name of Object.keys(tls)) {
    if (!FIELDS.has(name)) {
      const hint = name === 'rejectUnauthorized' ? ': verification is turned off only with "insecureSkipVerify: true"' : '';
      throw new TypeError(`${scope}: option "${option}.${name}" is not a TLS setting${hint}`);
    }
  }
  const { ca, servername, cert, key, insecureSkipVerify } = tls;
  if (ca !== undefined && !isPem(ca) && !(Array.isArray(ca) && ca.length > 0 && ca.every(isPem))) {
    throw new TypeError(`${scope}: option "${option}.ca" must be PEM text or a non-empty array of PEM texts (got ${describeValue(ca)})`);
  }
  if (servername !== undefined && (typeof servername !== 'string' || servername.length === 0)) {
    throw new TypeError(`${scope}: option "${option}.servername" must be a non-empty string (got ${describeValue(servername)})`);
  }
  if (cert !== undefined && !isPem(cert)) throw new TypeError(`${scope}: option "${option}.cert" must be PEM text (got ${describeValue(cert)})`);
  if (key !== undefined && !isPem(key)) throw new TypeError(`${scope}: option "${option}.key" must be PEM text (got ${describeValue(key)})`);
  if ((cert === undefined) !== (key === undefined)) throw new TypeError(`${scope}: option "${option}" needs both "cert" and "key" for a client certificate`);
  if (insecureSkipVerify !== undefined && typeof insecureSkipVerify !== 'boolean') {
    throw new TypeError(`${scope}: option "${option}.insecureSkipVerify" must be a boolean (got ${describeValue(insecureSkipVerify)})`);
  }
  return {
    rejectUnauthorized: insecureSkipVerify !== true,
    ...(ca !== undefined && { ca: Array.isArray(ca) ? [...(ca as Array<string | Buffer>)] : (ca as string | Buffer) }),
    ...(servername !== undefined && { servername: servername as string }),
    ...(cert !== undefined && { cert: cert as string | Buffer, key: key as string | Buffer }),
  };
}

/** The SNI name of a connection to `hostname`: none for an IP address (RFC 6066 §3). */
export function serverNameOf(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? bare : undefined;
}
