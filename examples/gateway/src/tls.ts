import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type SecureContext, type SecureContextOptions, type Server as TlsServer, createSecureContext } from 'node:tls';
import { ConfigError, type ConfigIssue, type GatewayConfig } from './config.js';
import { type ConfigWatcher, watchConfigFile } from './watch.js';

/** `server.tls` after validation. */
export type ServerTlsSettings = NonNullable<GatewayConfig['server']['tls']>;

/** One server certificate ready for handshakes. */
export interface ServedCertificate {
  /** Lower-case names it is served for; `*.example.com` covers one label. */
  readonly names: readonly string[];
  readonly context: SecureContext;
  /** What `tls.Server#setSecureContext` takes to make it the default. */
  readonly options: SecureContextOptions;
  readonly fingerprint256: string;
  readonly validTo: string;
}

/** The certificates of one load: looked up by SNI name. */
export interface CertificateSet {
  readonly certificates: readonly ServedCertificate[];
  /** Served without SNI, or for a name no certificate covers. */
  readonly fallback: ServedCertificate;
  readonly exact: ReadonlyMap<string, ServedCertificate>;
  /** By the domain after `*.`. */
  readonly wildcard: ReadonlyMap<string, ServedCertificate>;
}

/** A PEM file path or PEM text: its content. */
export async function readPem(value: string): Promise<string> {
  return value.trimStart().startsWith('-----BEGIN') ? value : readFile(value, 'utf8');
}

/** Files among PEM settings (inline PEM text is not watched). */
function filesOf(settings: ServerTlsSettings): string[] {
  const all = [...settings.certificates.flatMap((entry) => [entry.cert, entry.key]), ...(settings.clientCertificates?.ca ?? [])];
  return [...new Set(all.filter((value) => !value.trimStart().startsWith('-----BEGIN')))];
}

/** DNS and IP names of a certificate's subjectAltName; its CN when it has none. */
export function certificateNames(x509: X509Certificate): string[] {
  const names: string[] = [];
  for (const part of (x509.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('DNS:')) names.push(part.slice(4).toLowerCase());
    else if (part.startsWith('IP Address:')) names.push(part.slice(11).toLowerCase());
  }
  if (names.length > 0) return names;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1];
  return cn === undefined ? [] : [cn.toLowerCase()];
}

async function readSetting(value: string, path: string, issues: ConfigIssue[]): Promise<string | undefined> {
  try {
    return await readPem(value);
  } catch (error) {
    issues.push({ path, message: `cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` });
    return undefined;
  }
}

/**
 * Reads every certificate, key and client CA of `server.tls` and makes their secure contexts.
 * Throws a {@link ConfigError} naming the entry at fault (a file that cannot be read, a key that
 * does not match its certificate, a certificate without names).
 */
export async function loadCertificates(settings: ServerTlsSettings, source?: string): Promise<CertificateSet> {
  const issues: ConfigIssue[] = [];
  const caTexts = await Promise.all((settings.clientCertificates?.ca ?? []).map((ca, i) => readSetting(ca, `server.tls.clientCertificates.ca[${i}]`, issues)));
  const ca = caTexts.filter((text): text is string => text !== undefined);
  const certificates: ServedCertificate[] = [];
  for (const [i, entry] of settings.certificates.entries()) {
    const at = `server.tls.certificates[${i}]`;
    const [cert, key] = await Promise.all([readSetting(entry.cert, `${at}.cert`, issues), readSetting(entry.key, `${at}.key`, issues)]);
    if (cert === undefined || key === undefined) continue;
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch (error) {
      issues.push({ path: `${at}.cert`, message: `is not a PEM certificate: ${(error as Error).message}` });
      continue;
    }
    try {
      if (!x509.checkPrivateKey(createPrivateKey(key))) {
        issues.push({ path: `${at}.key`, message: 'does not match the certificate' });
        continue;
      }
    } catch (error) {
      issues.push({ path: `${at}.key`, message: `is not a PEM private key: ${(error as Error).message}` });
      continue;
    }
    const names = entry.serverNames?.map((name) => name.toLowerCase()) ?? certificateNames(x509);
    if (names.length === 0) {
      issues.push({ path: `${at}.serverNames`, message: 'the certificate names no host (no subjectAltName, no CN): list its serverNames' });
      continue;
    }
    const options: SecureContextOptions = { cert, key, minVersion: settings.minVersion, ...(ca.length > 0 ? { ca } : {}) };
    try {
      certificates.push({ names, context: createSecureContext(options), options, fingerprint256: x509.fingerprint256, validTo: x509.validTo });
    } catch (error) {
      issues.push({ path: at, message: `cannot be used: ${(error as Error).message}` });
    }
  }
  if (issues.length > 0) throw new ConfigError(issues, source);
  const exact = new Map<string, ServedCertificate>();
  const wildcard = new Map<string, ServedCertificate>();
  // The first certificate listed for a name wins, as the first matching server block does in nginx.
  for (const served of certificates) {
    for (const name of served.names) {
      if (name.startsWith('*.')) {
        if (!wildcard.has(name.slice(2))) wildcard.set(name.slice(2), served);
      } else if (!exact.has(name)) {
        exact.set(name, served);
      }
    }
  }
  return { certificates, fallback: certificates[0]!, exact, wildcard };
}

/** The certificate served for an SNI name: an exact name, else a wildcard one label up, else the first. */
export function certificateFor(set: CertificateSet, servername: string | undefined | null | false): ServedCertificate {
  if (!servername) return set.fallback;
  const name = servername.toLowerCase();
  const exact = set.exact.get(name);
  if (exact !== undefined) return exact;
  const dot = name.indexOf('.');
  return (dot === -1 ? undefined : set.wildcard.get(name.slice(dot + 1))) ?? set.fallback;
}

/** Whether `certificate` covers `host` (a Host header value: port and IPv6 brackets ignored). */
export function certificateCovers(certificate: ServedCertificate, host: string): boolean {
  let name = host.toLowerCase();
  if (name.startsWith('[')) name = name.slice(1, name.indexOf(']') === -1 ? undefined : name.indexOf(']'));
  else if (name.indexOf(':') !== name.lastIndexOf(':')) {
    // a bare IPv6 address: no port
  } else {
    const colon = name.indexOf(':');
    if (colon !== -1) name = name.slice(0, colon);
  }
  if (name.endsWith('.')) name = name.slice(0, -1);
  const dot = name.indexOf('.');
  for (const served of certificate.names) {
    if (served === name) return true;
    if (dot !== -1 && served.startsWith('*.') && served.slice(2) === name.slice(dot + 1)) return true;
  }
  return false;
}

/** Callbacks of {@link TlsTermination}. */
export interface TlsTerminationOptions {
  source?: string;
  /** Debounce of file events, ms. */
  watchDebounce?: number;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/**
 * The certificates a TLS listener serves, swappable without a restart: new handshakes get the new
 * set (SNI callback and default context), connections already open keep theirs.
 */
export class TlsTermination {
  #settings: ServerTlsSettings;
  #set: CertificateSet;
  #server: TlsServer | undefined;
  #watchers: ConfigWatcher[] = [];
  #reloading: Promise<unknown> = Promise.resolve();
  readonly #options: TlsTerminationOptions;

  private constructor(settings: ServerTlsSettings, set: CertificateSet, options: TlsTerminationOptions) {
    this.#settings = settings;
    this.#set = set;
    this.#options = options;
  }

  static async create(settings: ServerTlsSettings, options: TlsTerminationOptions): Promise<TlsTermination> {
    const termination = new TlsTermination(settings, await loadCertificates(settings, options.source), options);
    termination.#watch();
    return termination;
  }

  /** The certificates in force. */
  get current(): CertificateSet {
    return this.#set;
  }

  get settings(): ServerTlsSettings {
    return this.#settings;
  }

  /** SNI callback of the TLS listener. */
  readonly sniCallback = (servername: string, callback: (error: Error | null, context?: SecureContext) => void): void => {
    callback(null, certificateFor(this.#set, servername).context);
  };

  /** The listener whose default context follows reloads. */
  attach(server: TlsServer): void {
    this.#server = server;
  }

  /**
   * Reads the certificate files again (with `settings`, when the configuration changed) and swaps
   * them in. Rejects with a {@link ConfigError}, keeping the certificates in force.
   */
  reload(settings: ServerTlsSettings = this.#settings): Promise<CertificateSet> {
    const run = this.#reloading.then(async () => {
      const set = await loadCertificates(settings, this.#options.source);
      this.#server?.setSecureContext(set.fallback.options);
      this.#set = set;
      const watchChanged = filesOf(settings).join('\n') !== filesOf(this.#settings).join('\n') || settings.watch !== this.#settings.watch;
      this.#settings = settings;
      if (watchChanged) {
        await this.#unwatch();
        this.#watch();
      }
      this.#options.log('info', 'TLS certificates loaded', { certificates: set.certificates.map((c) => ({ names: c.names, fingerprint256: c.fingerprint256, validTo: c.validTo })) });
      return set;
    });
    this.#reloading = run.catch(() => {});
    return run;
  }

  #watch(): void {
    if (!this.#settings.watch) return;
    for (const file of filesOf(this.#settings)) {
      this.#watchers.push(
        watchConfigFile(file, {
          debounce: this.#options.watchDebounce,
          onChange: () => {
            this.reload().catch((error: unknown) =>
              this.#options.log('error', 'TLS certificates rejected; the certificates in force stay', {
                issues: error instanceof ConfigError ? error.issues : undefined,
                error: error instanceof ConfigError ? undefined : String(error),
              }),
            );
          },
          onError: (error) => this.#options.log('warn', 'TLS certificate watch error', { file, error: error.message }),
        }),
      );
    }
  }

  async #unwatch(): Promise<void> {
    const watchers = this.#watchers;
    this.#watchers = [];
    await Promise.all(watchers.map((watcher) => watcher.close()));
  }

  async close(): Promise<void> {
    await this.#unwatch();
    await this.#reloading;
  }
}
