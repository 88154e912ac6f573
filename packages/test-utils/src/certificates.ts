import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key, as PEM text and as files. */
export interface TestCertificate {
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
  /** Base64 SHA-256 of the public key (SPKI), as Chromium's `--ignore-certificate-errors-spki-list` takes it. */
  spkiHash: string;
  /** Colon-separated upper-case SHA-256 of the certificate, as `getPeerCertificate().fingerprint256` gives it. */
  fingerprint256: string;
}

/** What {@link TestCertificateAuthority.issue} puts in a certificate. */
export interface IssueOptions {
  commonName: string;
  /** DNS names of the subject alternative name. */
  dns?: string[];
  /** IP addresses of the subject alternative name. */
  ips?: string[];
  /** A client certificate (`clientAuth`) instead of a server one (`serverAuth`). */
  client?: boolean;
  /** Validity in days. Default 2. */
  days?: number;
  /** File name stem in the authority's directory. Default: the common name. */
  name?: string;
}

/** A throwaway certificate authority on disk (openssl CLI): issues server and client certificates. */
export interface TestCertificateAuthority extends TestCertificate {
  readonly dir: string;
  issue(options: IssueOptions): TestCertificate;
  /** Removes the directory. */
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function describe(certFile: string, keyFile: string): TestCertificate {
  const cert = readFileSync(certFile, 'utf8');
  const x509 = new X509Certificate(cert);
  const spki = x509.publicKey.export({ type: 'spki', format: 'der' });
  return {
    cert,
    key: readFileSync(keyFile, 'utf8'),
    certFile,
    keyFile,
    spkiHash: createHash('sha256').update(spki).digest('base64'),
    fingerprint256: x509.fingerprint256,
  };
}

/**
 * Creates a certificate authority (P-256 keys) in a fresh temporary directory, named `commonName`.
 * Certificates it issues carry the SANs given, so clients that trust the authority verify them.
 */
export function createTestCertificates(commonName = 'edgekit test CA'): TestCertificateAuthority {
  const dir = mkdtempSync(join(tmpdir(), 'edgekit-certs-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3', '-subj', `/CN=${commonName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  let serial = 1;
  const authority = describe(join(dir, 'ca.crt'), join(dir, 'ca.key'));
  return {
    ...authority,
    dir,
    issue(options) {
      const stem = (options.name ?? options.commonName).replace(/[^a-zA-Z0-9.-]/g, '_');
      const san = [...(options.dns ?? []).map((name) => `DNS:${name}`), ...(options.ips ?? []).map((ip) => `IP:${ip}`)];
      const ext = [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        `extendedKeyUsage=${options.client ? 'clientAuth' : 'serverAuth'}`,
        ...(san.length > 0 ? [`subjectAltName=${san.join(',')}`] : []),
      ];
      writeFileSync(join(dir, `${stem}.ext`), `${ext.join('\n')}\n`);
      openssl(['req', ...ec, '-keyout', `${stem}.key`, '-out', `${stem}.csr`, '-subj', `/CN=${options.commonName}/O=edgekit tests`], dir);
      openssl(['x509', '-req', '-in', `${stem}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(serial++ + Date.now() % 100_000 * 1000),
        '-out', `${stem}.crt`, '-days', String(options.days ?? 2), '-extfile', `${stem}.ext`], dir);
      return describe(join(dir, `${stem}.crt`), join(dir, `${stem}.key`));
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Chromium flags that make it accept the given (self-signed or test-CA) server certificates. */
export function chromiumArgsTrusting(...certificates: TestCertificate[]): string[] {
  return [`--ignore-certificate-errors-spki-list=${certificates.map((c) => c.spkiHash).join(',')}`];
}
