import { z } from 'zod';

/** A PEM file path, or PEM text itself (`-----BEGIN ...`). */
const pem = z.string().min(1, 'must be a PEM file path or PEM text');

const certificateEntry = z.strictObject({
  /** Certificate chain (leaf first): a PEM file or PEM text. */
  cert: pem,
  /** Its private key: a PEM file or PEM text. */
  key: pem,
  /** Names this certificate is served for (`api.example.com`, `*.example.com`). Default: the DNS and IP names of its subjectAltName (its CN without one). */
  serverNames: z.array(z.string().regex(/^(\*\.)?[a-z0-9.:-]+$/i, 'must be a host name, "*.<domain>" or an IP address')).min(1).optional(),
});

/** `server.tls`: TLS termination on the public port (SNI picks among `certificates`; the first is the default). */
export const serverTlsSection = z
  .strictObject({
    /** Server certificates; the first is served to clients that send no SNI name or one no certificate covers. */
    certificates: z.array(certificateEntry).min(1, 'at least one certificate is required'),
    /** Oldest protocol version accepted. Default: `TLSv1.2`. */
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    /** Reload certificates and CAs when their files change (they are also reloaded on SIGHUP and with every configuration reload). Default: true. */
    watch: z.boolean().default(true),
    /** Longest a TLS handshake may take, ms. Default: 10000. */
    handshakeTimeout: z.number().int().min(1).default(10_000),
    /** Client certificates (mTLS): requested on every handshake, required by the routes that say `clientCertificate: required`. */
    clientCertificates: z
      .strictObject({
        /** CAs client certificates must chain to: PEM files or PEM text. */
        ca: z.array(pem).min(1, 'at least one CA is required'),
      })
      .optional(),
  })
  .optional();

/**
 * `server.clientCertificateHeaders`: request headers that claim a client certificate. Removed from
 * requests unless the peer is in `geo.trustedProxies` (a proxy in front that terminated TLS); on a
 * connection with a verified client certificate, `x-forwarded-client-cert` is set from it.
 */
export const clientCertificateHeaders = z
  .array(z.string().regex(/^[a-z0-9-]+$/, 'must be a lower-case header name'))
  .default(['x-forwarded-client-cert', 'x-client-cert', 'x-ssl-client-cert', 'ssl-client-cert', 'x-client-verify', 'x-ssl-client-verify', 'x-ssl-client-s-dn', 'x-client-dn', 'client-cert', 'client-cert-chain', 'x-ssl-client-dn', 'x-client-cert-subject', 'x-arr-clientcert', 'x-amzn-mtls-clientcert', 'x-amzn-mtls-clientcert-leaf']);

/** `server.http2`: which listeners speak HTTP/2. */
export const serverHttp2Section = z
  .strictObject({
    /** Offer `h2` by ALPN on the TLS listener (HTTP/1.1 stays available). Default: true. */
    enabled: z.boolean().default(true),
    /** Take HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) on a plain listener, beside HTTP/1.1 on the same port. Default: false. */
    cleartext: z.boolean().default(false),
  })
  .prefault({});

/**
 * TLS towards an upstream (`proxy.tls` for every `https://` region, `regions[].tls` per region).
 * Certificates are verified against the system CAs (or `ca`) unless `insecureSkipVerify: true`.
 */
export const upstreamTlsSchema = z.strictObject({
  /** CAs the upstream certificate must chain to (PEM files or text), replacing the system CAs. */
  ca: z.array(pem).min(1).optional(),
  /** Name sent by SNI and checked against the upstream certificate. Default: the URL's host name. */
  servername: z.string().min(1).optional(),
  /** Client certificate for upstream mTLS (with `key`). */
  cert: pem.optional(),
  key: pem.optional(),
  /** Turns certificate verification off (logged as a warning at startup). Default: false. */
  insecureSkipVerify: z.boolean().default(false),
  /** Only `true` is accepted: verification is turned off with `insecureSkipVerify: true`, never by accident. */
  rejectUnauthorized: z.literal(true, 'verification is turned off only with "insecureSkipVerify: true"').optional(),
}).refine((tls) => (tls.cert === undefined) === (tls.key === undefined), { message: 'give both "cert" and "key" for a client certificate', path: ['key'] });

/** Upstream TLS settings after validation. */
export type UpstreamTlsSettings = z.infer<typeof upstreamTlsSchema>;
