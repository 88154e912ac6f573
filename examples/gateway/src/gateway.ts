import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { Server as NetServer } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Clock, checkOptionsObject, optionalFunction, optionalNumber, optionalString, responseOnSocket, sendProblem, systemClock } from '@edgekit/core';
import { type Lifecycle, type ShutdownResult, createLifecycle } from '@edgekit/health';
import { misdirected, sanitizeClientCertificateHeaders } from './client-certificate.js';
import { capConnectionsPerClient } from './connections.js';
import { ConfigError, type GatewayConfig, type GatewayConfigInput, loadConfigFile, parseConfig } from './config.js';
import { type ConfigWatcher, watchConfigFile } from './watch.js';
import { type ConfigBucketWatch, watchConfigBucket } from './config-bucket.js';
import { type IngressRefusal, type IngressSettings, admitRequest, pathOf } from './ingress.js';
import { createEdgeMapEndpoint } from './edge-map.js';
import { createDownstream } from './h2-listener.js';
import { listenOn, urlOf } from './listener.js';
import { type OperatorContext, serveOperator } from './operator.js';
import { Pipeline } from './pipeline.js';
import { regionHealth, routingLabels, routingStatus } from './routing-status.js';
import { StatusCounters, type StatusSnapshot, StatusStreams } from './status.js';
import { type GatewayTelemetry, createGatewayTelemetry } from './telemetry.js';
import { TlsTermination } from './tls.js';
import { trustedPeer, upstreamTlsWarnings } from './upstream-tls.js';
import { markAwaitingContinue, releaseContinue } from './expect-continue.js';

/** A structured log line: level, message and fields. */
export type GatewayLogger = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** Options of {@link createGateway} beyond the configuration itself. */
export interface GatewayOptions {
  /** Environment for the overrides (`EDGE_LOCATION`, `PORT`, ...). Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** The file the configuration came from: watched and reloaded when it changes. Default: none. */
  configFile?: string;
  /** Watch `configFile` (default `true` when it is given). */
  watch?: boolean;
  /** Quiet period after a file event before the file is read, ms. Default: 100. */
  watchDebounce?: number;
  /** Where log lines go. Default: JSON lines on stdout (warnings and errors on stderr). */
  logger?: GatewayLogger;
  /** Time source for the lifecycle and the status streams. Default: the system clock. */
  clock?: Clock;
}

/** Outcome of a reload. */
export interface ReloadResult {
  version: number;
  /** Settings that only take effect after a restart and were left as they were. */
  restartRequired: string[];
}

/** A running gateway. */
export interface Gateway {
  /** The configuration in force. */
  readonly config: GatewayConfig;
  /** Number of the configuration in force: 1 at start, +1 per accepted reload. */
  readonly version: number;
  /** The public listener: an HTTP server, or a TLS or TCP server in front of HTTP/1.1 and HTTP/2 ones. */
  readonly server: NetServer;
  readonly lifecycle: Lifecycle;
  readonly telemetry: GatewayTelemetry;
  /** `http://host:port` of the public listener, once listening. */
  readonly url: string;
  /** Where `/metrics`, `/status` and `/admin/purge` are served: the admin listener when `server.adminPort` is set, else `url`. */
  readonly adminUrl: string;
  /** Starts listening on the configured (or given) port and host; resolves with the URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Validates `input` and swaps the pipeline; requests in flight finish on the old one. Rejects with a `ConfigError`, keeping the running configuration. */
  reload(input: GatewayConfigInput | GatewayConfig, source?: string): Promise<ReloadResult>;
  /** Reads `configFile` again and reloads it. */
  reloadFromFile(): Promise<ReloadResult>;
  /** Reads the TLS certificate files again (as on SIGHUP); open connections keep theirs. Rejects with a `ConfigError`, keeping the certificates in force. */
  reloadCertificates(): Promise<void>;
  /** The status page data. */
  status(): StatusSnapshot;
  /** Readiness fails, load balancers get `shutdownDelay` to notice, the listener closes, requests drain, then every component closes. */
  shutdown(): Promise<ShutdownResult>;
  /** `shutdown()` without the delay. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const SCOPE = '@edgekit/gateway';

const defaultLogger: GatewayLogger = (level, msg, fields = {}) => {
  const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
  if (level === 'info') process.stdout.write(`${line}\n`);
  else process.stderr.write(`${line}\n`);
};

function restartOnly(from: GatewayConfig, to: GatewayConfig): string[] {
  const changed: string[] = [];
  if (from.server.port !== to.server.port) changed.push('server.port');
  if (from.server.host !== to.server.host) changed.push('server.host');
  if (from.server.adminPort !== to.server.adminPort) changed.push('server.adminPort');
  if ((from.server.tls === undefined) !== (to.server.tls === undefined) || (from.server.tls?.clientCertificates === undefined) !== (to.server.tls?.clientCertificates === undefined)) changed.push('server.tls');
  if (JSON.stringify(from.server.http2) !== JSON.stringify(to.server.http2) || from.server.maxConcurrentStreams !== to.server.maxConcurrentStreams) changed.push('server.http2');
  if (from.edge.location !== to.edge.location) changed.push('edge.location');
  if (from.edge.nodeId !== to.edge.nodeId) changed.push('edge.nodeId');
  if (from.telemetry.defaultMetrics !== to.telemetry.defaultMetrics || from.telemetry.tracing !== to.telemetry.tracing) changed.push('telemetry');
  if (from.server.shutdownDelay !== to.server.shutdownDelay || from.server.drainTimeout !== to.server.drainTimeout) changed.push('server.shutdownDelay/drainTimeout');
  return changed;
}

/**
 * Creates an edge gateway from a configuration (validated here; environment overrides apply):
 * geo routing, health checks, breakers, failover, a response cache, per-route auth and rate limits,
 * metrics, a status page, an admin purge API, hot reload and graceful shutdown.
 */
export async function createGateway(input: GatewayConfigInput | GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  checkOptionsObject(SCOPE, options);
  const env = options.env ?? process.env;
  const log = optionalFunction<GatewayLogger, GatewayLogger>(SCOPE, 'logger', options.logger, defaultLogger);
  const clock = options.clock ?? systemClock;
  optionalNumber(SCOPE, 'watchDebounce', options.watchDebounce, 100, { min: 0 });
  optionalString(SCOPE, 'configFile', options.configFile, undefined);
  let config = parseConfig(input, { env, source: options.configFile });
  const startedAt = clock.now();
  for (const warning of upstreamTlsWarnings(config)) log('warn', warning.msg, warning.fields);
  const tls = config.server.tls === undefined ? undefined : await TlsTermination.create(config.server.tls, { source: options.configFile, log, watchDebounce: options.watchDebounce });
  const telemetry = createGatewayTelemetry({
    location: config.edge.location,
    nodeId: config.edge.nodeId,
    regions: config.regions.map((region) => region.name),
    routing: routingLabels(config),
    defaultMetrics: config.telemetry.defaultMetrics,
    tracing: config.telemetry.tracing,
  });
  const counters = new StatusCounters();
  const context = { counters, telemetry, log };
  let pipeline = await Pipeline.build(config, context);
  let version = 1;
  let loadedAt = new Date();
  let lastReloadError: string | undefined;
  let configSource = options.configFile;
  let reloading: Promise<unknown> = Promise.resolve();
  let closed = false;

  const lifecycle = createLifecycle({
    checker: { snapshot: () => regionHealth(pipeline) },
    dependencies: [
      { name: 'redis', required: false, check: () => (pipeline.redis === undefined ? true : pipeline.redis.status === 'ready') },
      // Stale revocation state is reported here; only `revocations: fresh` routes refuse (503) because of it.
      { name: 'event-stream', required: false, check: () => pipeline.events === undefined || pipeline.events.fresh() },
    ],
    shutdownDelay: config.server.shutdownDelay,
    drainTimeout: config.server.drainTimeout,
    clock,
  });

  const status = (): StatusSnapshot => {
    const forwarded = counters.forwarded;
    const lookups = counters.cacheHits + counters.cacheMisses + counters.cacheStale;
    return {
      edge: { location: config.edge.location, nodeId: config.edge.nodeId },
      phase: lifecycle.phase,
      uptimeMs: clock.now() - startedAt,
      generatedAt: new Date().toISOString(),
      config: { version, loadedAt: loadedAt.toISOString(), source: configSource, lastReloadError },
      ...routingStatus(pipeline, counters),
      routing: { forwarded, failovers: counters.failovers, errors: counters.errors, byRegion: Object.fromEntries(counters.byRegion) },
      events: pipeline.events?.snapshot(),
      cache: {
        enabled: pipeline.cache !== undefined,
        hits: counters.cacheHits + counters.cacheStale,
        misses: counters.cacheMisses,
        stale: counters.cacheStale,
        bypasses: counters.cacheBypasses,
        hitRate: lookups === 0 ? 0 : (counters.cacheHits + counters.cacheStale) / lookups,
      },
      rateLimits: { countsFrom: Object.fromEntries(counters.countsFrom) },
      requests: { inFlight: lifecycle.inFlight },
    };
  };
  const streams = new StatusStreams(status, config.status.interval, clock, config.status.maxStreams);
  lifecycle.on('phase', ({ phase }) => {
    if (phase === 'draining') streams.close();
  });

  // Only proxied traffic is timed and traced: probes and scrapes would skew the latency histogram.
  const proxied = telemetry.wrap((req, res) => pipeline.handle(req, res));
  const operator: OperatorContext = { config: () => config, pipeline: () => pipeline, telemetry, streams, status, log };
  const ingress = (): IngressSettings => pipeline.ingress;
  const fromTrustedProxy = (req: IncomingMessage): boolean => trustedPeer(req, config.geo.trustedProxies);
  /**
   * What every request and upgrade on the public port goes through first: the client-certificate
   * headers a client (not a trusted proxy) sent are removed, then the request is admitted, its
   * `req.url` made canonical, or refused.
   */
  const screen = (req: IncomingMessage): IngressRefusal | undefined => {
    sanitizeClientCertificateHeaders(req, ingress().clientCertificateHeaders, fromTrustedProxy);
    return admitRequest(req, ingress());
  };
  /** Answers a refusal; false when there is none. */
  const refused = (res: ServerResponse, refusal: IngressRefusal | undefined): boolean => {
    if (refusal === undefined) return false;
    sendProblem(res, refusal.problem, refusal.headers);
    return true;
  };
  // Signed with wall-clock time: clients compare issuedAt and expiresAt with their own clocks.
  let edgeMap = createEdgeMapEndpoint(config, systemClock);
  // With a separate admin port, the public port claims only /health and /ready (and the edge map); everything else is proxied.
  const separateAdmin = config.server.adminPort !== undefined;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    if (tls !== undefined && misdirected(req, tls.current, res)) return;
    if (refused(res, screen(req))) return;
    const path = pathOf(req.url);
    if (lifecycle.handle(req, res) || edgeMap?.(req, res, path) || (!separateAdmin && serveOperator(operator, req, res, path, false))) {
      // An endpoint answered here (or reads the body itself): a client still waiting for 100 Continue may send it.
      releaseContinue(req, res);
      return;
    }
    // Each layer (lifecycle, metrics, tracing, pipeline, cache, stream.pipeline) watches the
    // response's 'close'; that is more than Node's leak-warning default of 10, and not a leak.
    res.setMaxListeners(32);
    proxied(req, res);
  };
  const adminHandler = (req: IncomingMessage, res: ServerResponse): void => {
    if (refused(res, admitRequest(req, ingress()))) return;
    if (lifecycle.handle(req, res)) return;
    if (!serveOperator(operator, req, res, pathOf(req.url), true)) sendProblem(res, { title: 'Not Found', status: 404, detail: 'the admin port serves /health, /ready, /metrics, /status and /admin/purge' });
  };

  const tracked = lifecycle.track(handler);
  const server = createServer(tracked);
  // `Expect: 100-continue`: answered by the forwarder (the origin's own 100 over HTTP/2), not by Node at once.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    markAwaitingContinue(req);
    tracked(req, res);
  });
  server.keepAliveTimeout = 65_000; // longer than common load balancer idle timeouts (60 s)
  server.headersTimeout = 66_000;
  const { http2, maxConcurrentStreams } = config.server;
  const downstream = createDownstream(server, tracked, {
    tls,
    http2: http2.enabled,
    cleartext: http2.cleartext,
    maxConcurrentStreams,
    requestCert: config.server.tls?.clientCertificates !== undefined,
    handshakeTimeout: config.server.tls?.handshakeTimeout ?? 10_000,
    idleTimeout: server.keepAliveTimeout,
  });
  capConnectionsPerClient(downstream.listener, () => ({ max: config.server.maxConnectionsPerClient, trustedProxies: config.geo.trustedProxies }));
  lifecycle.addServer(downstream.closable);
  // Upgrade tunnels (WebSocket) are long-lived: refused once shutdown begins, closed when the listener closes.
  const tunnels = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    if (lifecycle.phase !== 'serving') {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const refusal = screen(req);
    if (refusal !== undefined) {
      sendProblem(responseOnSocket(req, socket), refusal.problem, refusal.headers);
      return;
    }
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    pipeline.handleUpgrade(req, socket, head);
  });
  lifecycle.on('phase', ({ phase }) => {
    if (phase === 'closing') for (const socket of tunnels) socket.destroy();
  });
  const adminServer = separateAdmin ? createServer(adminHandler) : undefined;
  if (adminServer) lifecycle.addServer(adminServer);

  const reloadNow = async (next: GatewayConfig): Promise<ReloadResult> => {
    const restartRequired = restartOnly(config, next);
    // Certificates first: files that do not load reject the reload before anything changed.
    if (tls !== undefined && next.server.tls !== undefined) await tls.reload(next.server.tls);
    const previous = pipeline;
    const built = await Pipeline.build(next, context, previous);
    pipeline = built;
    config = next;
    edgeMap = createEdgeMapEndpoint(next, systemClock);
    version++;
    loadedAt = new Date();
    lastReloadError = undefined;
    streams.setInterval(next.status.interval);
    streams.setMaxStreams(next.status.maxStreams);
    await telemetry.setRegions(next.regions.map((region) => region.name), routingLabels(next));
    telemetry.recordReload('success');
    log('info', 'configuration reloaded', { version, restartRequired });
    // The old pipeline finishes its requests, then lets go of what the new one does not reuse.
    void previous.drain(next.server.reloadDrainTimeout).then(async (drained) => {
      if (!drained) log('warn', 'requests still in the previous pipeline after the reload drain timeout', { inFlight: previous.inFlight });
      await previous.components.release();
    });
    return { version, restartRequired };
  };

  const reload = (next: GatewayConfigInput | GatewayConfig, source?: string): Promise<ReloadResult> => {
    const run = reloading.then(async () => {
      if (closed) throw new Error('the gateway is shut down');
      try {
        const result = await reloadNow(parseConfig(next, { env, source }));
        if (source !== undefined) configSource = source;
        return result;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        lastReloadError = message;
        telemetry.recordReload('rejected');
        log('error', 'configuration rejected; the running configuration stays', {
          version,
          issues: error instanceof ConfigError ? error.issues : undefined,
          error: error instanceof ConfigError ? undefined : message,
        });
        throw error;
      }
    });
    reloading = run.catch(() => {});
    return run;
  };

  const reloadFromFile = async (): Promise<ReloadResult> => {
    if (options.configFile === undefined) throw new TypeError('reloadFromFile() needs the "configFile" option');
    const file = options.configFile;
    const run = reloading.then(async () => {
      try {
        const { config: next } = await loadConfigFile(file, { env });
        return next;
      } catch (error) {
        lastReloadError = (error as Error).message;
        telemetry.recordReload('rejected');
        log('error', 'configuration rejected; the running configuration stays', { version, issues: error instanceof ConfigError ? error.issues : undefined });
        throw error;
      }
    });
    reloading = run.catch(() => {});
    return reload(await run, file);
  };

  let watcher: ConfigWatcher | undefined;
  if (options.configFile !== undefined && options.watch !== false) {
    watcher = watchConfigFile(options.configFile, {
      debounce: options.watchDebounce,
      onChange: () => {
        log('info', 'configuration file changed', { file: options.configFile });
        reloadFromFile().catch(() => {});
      },
      onError: (error) => log('warn', 'configuration watch error', { error: error.message }),
    });
  }

  // The JetStream key-value bucket, when configured, overrides the file: every revision goes through reload().
  const nats = config.bus.driver === 'nats' ? config.bus.nats : undefined;
  let bucketWatch: ConfigBucketWatch | undefined;
  if (nats?.configBucket) {
    const location = { servers: nats.servers, bucket: nats.configBucket, key: nats.configKey, nodeId: config.edge.nodeId };
    bucketWatch = await watchConfigBucket(location, (raw, source) => reload(raw as GatewayConfigInput, source), log);
  }

  let shutdownResult: Promise<ShutdownResult> | undefined;
  const shutdown = (delay?: number): Promise<ShutdownResult> => {
    shutdownResult ??= (async () => {
      closed = true;
      await watcher?.close();
      await bucketWatch?.close();
      log('info', 'shutting down: readiness fails, then the listener closes and requests drain', { inFlight: lifecycle.inFlight });
      const result = await lifecycle.shutdown(delay === undefined ? {} : { delay });
      streams.close();
      await reloading;
      await tls?.close();
      await pipeline.components.release();
      await telemetry.close();
      log('info', 'shut down', { drained: result.drained, abandoned: result.abandoned, durationMs: result.durationMs });
      return result;
    })();
    return shutdownResult;
  };

  const gateway: Gateway = {
    get config() {
      return config;
    },
    get version() {
      return version;
    },
    server: downstream.listener,
    lifecycle,
    telemetry,
    get url() {
      return urlOf(downstream.listener, downstream.scheme);
    },
    get adminUrl() {
      return adminServer === undefined ? urlOf(downstream.listener, downstream.scheme) : urlOf(adminServer);
    },
    async listen(port = config.server.port, host = config.server.host) {
      await listenOn(downstream.listener, port, host, 'server.port');
      if (adminServer !== undefined) await listenOn(adminServer, config.server.adminPort!, host, 'server.adminPort');
      log('info', 'listening', { url: gateway.url, adminUrl: gateway.adminUrl, location: config.edge.location, nodeId: config.edge.nodeId, version });
      return gateway.url;
    },
    reload: (next, source) => reload(next, source),
    reloadFromFile,
    async reloadCertificates() {
      await tls?.reload();
    },
    status,
    shutdown: () => shutdown(),
    close: async () => {
      await shutdown(0);
    },
    [Symbol.asyncDispose]: () => gateway.close(),
  };
  return gateway;
}
