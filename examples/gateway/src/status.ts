import type { EventStreamStatus } from './event-stream.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EndpointStatus } from '@edgekit/balancer';
import { type Clock, sendProblem } from '@edgekit/core';

/** One region on the status page. */
export interface RegionStatus {
  name: string;
  url: string;
  /** Active health check state. */
  health: 'unknown' | 'healthy' | 'unhealthy';
  /** Circuit breaker state (`closed` until the breaker is first used). */
  breaker: 'closed' | 'open' | 'halfOpen' | 'shutdown';
  /** Responses this region delivered since the gateway started. */
  responses: number;
  /** Share of forwarded responses this region delivered, 0..1. */
  share: number;
  /** Last probe's status code, when one answered. */
  lastStatus: number | undefined;
  /** For a region with endpoints: each endpoint with its check and ejection state, latency average and requests in flight (`@edgekit/balancer`'s `EndpointStatus`). */
  endpoints?: EndpointStatus[];
  /** For a region with endpoints: the balancer, the healthy share and whether the region is in panic mode. */
  balancing?: { balancer: string; healthyPercent: number; panic: boolean };
}

/** One service on the status page: its regions (named without the service prefix) and their endpoints. */
export interface ServiceStatus {
  name: string;
  regions: RegionStatus[];
}

/** What `/status.json` and the status page show. */
export interface StatusSnapshot {
  edge: { location: string; nodeId: string };
  phase: string;
  uptimeMs: number;
  generatedAt: string;
  config: { version: number; loadedAt: string; source: string | undefined; lastReloadError: string | undefined };
  regions: RegionStatus[];
  /** The configured services, each with its regions and endpoints. */
  services: ServiceStatus[];
  routing: { forwarded: number; failovers: number; errors: number; byRegion: Record<string, number> };
  /** The NATS event stream, when it carries invalidations and revocations. */
  events: EventStreamStatus | undefined;
  cache: { enabled: boolean; hits: number; misses: number; stale: number; bypasses: number; hitRate: number };
  /** Counts messages of `scope: global` limits received from each other region since the gateway started. */
  rateLimits: { countsFrom: Record<string, number> };
  requests: { inFlight: number };
}

/** Counters fed by the pipelines' events; they outlive reloads. */
export class StatusCounters {
  readonly byRegion = new Map<string, number>();
  forwarded = 0;
  failovers = 0;
  errors = 0;
  cacheHits = 0;
  cacheMisses = 0;
  cacheStale = 0;
  cacheBypasses = 0;
  readonly countsFrom = new Map<string, number>();

  recordResponse(region: string): void {
    this.forwarded++;
    this.byRegion.set(region, (this.byRegion.get(region) ?? 0) + 1);
  }

  recordCounts(region: string): void {
    this.countsFrom.set(region, (this.countsFrom.get(region) ?? 0) + 1);
  }

  recordLookup(status: 'hit' | 'miss' | 'stale' | 'bypass'): void {
    if (status === 'hit') this.cacheHits++;
    else if (status === 'miss') this.cacheMisses++;
    else if (status === 'stale') this.cacheStale++;
    else this.cacheBypasses++;
  }
}

/**
 * Server-sent events of the status snapshot: one shared timer runs while at least one page is
 * connected, and every stream ends when the gateway starts draining.
 */
export class StatusStreams {
  readonly #clients = new Set<ServerResponse>();
  readonly #snapshot: () => StatusSnapshot;
  readonly #clock: Clock;
  #interval: number;
  #maxStreams: number;
  #timer: ReturnType<Clock['setTimeout']> | undefined;
  #closed = false;

  constructor(snapshot: () => StatusSnapshot, interval: number, clock: Clock, maxStreams: number) {
    this.#snapshot = snapshot;
    this.#interval = interval;
    this.#maxStreams = maxStreams;
    this.#clock = clock;
  }

  get size(): number {
    return this.#clients.size;
  }

  setInterval(ms: number): void {
    this.#interval = ms;
  }

  setMaxStreams(max: number): void {
    this.#maxStreams = max;
  }

  open(req: IncomingMessage, res: ServerResponse): void {
    if (this.#closed) {
      res.writeHead(503, { 'content-type': 'text/plain', connection: 'close' }).end('shutting down\n');
      return;
    }
    if (this.#clients.size >= this.#maxStreams) {
      sendProblem(res, { title: 'Service Unavailable', status: 503, detail: `at most ${this.#maxStreams} status streams are open at once (status.maxStreams)` }, { 'retry-after': 5 });
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: ${this.#interval}\n`);
    this.#send(res, this.#snapshot());
    this.#clients.add(res);
    req.socket.setNoDelay(true);
    res.on('close', () => {
      this.#clients.delete(res);
      if (this.#clients.size === 0) this.#stop();
    });
    this.#schedule();
  }

  #send(res: ServerResponse, snapshot: StatusSnapshot): void {
    res.write(`event: status\ndata: ${JSON.stringify(snapshot)}\n\n`);
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#clients.size === 0 || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#clients.size === 0) return;
      const snapshot = this.#snapshot();
      for (const client of this.#clients) this.#send(client, snapshot);
      this.#schedule();
    }, this.#interval);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Ends every stream (the pages reconnect to another pod). */
  close(): void {
    this.#closed = true;
    this.#stop();
    for (const client of this.#clients) client.end();
    this.#clients.clear();
  }
}

/** The status page: static HTML whose script follows `/status/events` (falling back to polling `/status.json`). */
export const STATUS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edge gateway status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2430; background: #f6f7f9; }
  h1 { font-size: 1.3rem; margin: 0 0 .25rem; } h2 { font-size: 1rem; margin: 1.25rem 0 .5rem; }
  .meta { color: #5b6474; } .meta span { margin-right: 1rem; }
  table { border-collapse: collapse; background: #fff; min-width: 40rem; }
  th, td { text-align: left; padding: .35rem .7rem; border-bottom: 1px solid #e3e6eb; }
  .state { font-weight: 600; } .healthy, .closed { color: #137333; } .unhealthy, .open { color: #b3261e; }
  .unknown, .halfOpen { color: #8a6d00; }
  .bar { height: .6rem; background: #4c7bd9; border-radius: 2px; min-width: 1px; }
  .cards { display: flex; gap: 1rem; flex-wrap: wrap; } .card { background: #fff; padding: .6rem 1rem; border-radius: 6px; }
  .card b { display: block; font-size: 1.4rem; }
  #live.off { color: #b3261e; }
</style>
</head>
<body>
<h1>Edge gateway <span id="location">…</span></h1>
<div class="meta"><span>node <b id="node">…</b></span><span>phase <b id="phase">…</b></span><span>config v<b id="config-version">…</b></span><span id="live" class="off">connecting…</span><span>updated <b id="updated">never</b></span></div>
<div id="reload-error" class="meta"></div>
<h2>Regions</h2>
<table id="regions"><thead><tr><th>region</th><th>health</th><th>breaker</th><th>responses</th><th>share</th><th></th></tr></thead><tbody></tbody></table>
<h2>Services</h2>
<table id="services"><thead><tr><th>service</th><th>region</th><th>health</th><th>breaker</th><th>responses</th><th>endpoints</th></tr></thead><tbody></tbody></table>
<h2>Traffic</h2>
<div class="cards">
  <div class="card">forwarded<b id="forwarded">0</b></div>
  <div class="card">failovers<b id="failovers">0</b></div>
  <div class="card">errors<b id="errors">0</b></div>
  <div class="card">cache hit rate<b id="hit-rate">–</b></div>
  <div class="card">cache hits / misses<b id="cache-counts">0 / 0</b></div>
  <div class="card">event stream<b id="event-stream">–</b></div>
  <div class="card">in flight<b id="in-flight">0</b></div>
</div>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  const text = (id, value) => { $(id).textContent = String(value); };
  function cell(row, value, cls) { const td = document.createElement('td'); td.textContent = String(value); if (cls) td.className = cls; row.appendChild(td); return td; }
  function endpointsText(r) {
    const head = r.balancing ? r.balancing.balancer + ', ' + Math.round(r.balancing.healthyPercent) + ' % healthy' + (r.balancing.panic ? ', PANIC' : '') + ': ' : '';
    return head + r.endpoints.map((e) => e.url + ' [' + (e.ejected ? 'ejected x' + e.ejections : !e.checked ? 'failing checks' : 'up') + ', ' + (e.ewmaMs === undefined || e.ewmaMs === null ? '–' : e.ewmaMs.toFixed(1) + ' ms') + ', ' + e.inflight + ' in flight]').join('; ');
  }
  function renderServices(services) {
    const body = $('services').tBodies[0]; body.replaceChildren();
    for (const svc of services || []) for (const r of svc.regions) {
      const row = document.createElement('tr'); row.dataset.service = svc.name; row.dataset.region = r.name;
      cell(row, svc.name); cell(row, r.name); cell(row, r.health, 'state health ' + r.health); cell(row, r.breaker, 'state breaker ' + r.breaker);
      cell(row, r.responses, 'responses'); cell(row, r.endpoints ? endpointsText(r) : r.url, 'endpoints'); body.appendChild(row);
    }
  }
  function render(s) {
    renderServices(s.services);
    text('location', s.edge.location); text('node', s.edge.nodeId); text('phase', s.phase);
    text('config-version', s.config.version); text('updated', new Date(s.generatedAt).toLocaleTimeString());
    text('reload-error', s.config.lastReloadError ? 'last reload rejected: ' + s.config.lastReloadError : '');
    const body = $('regions').tBodies[0]; body.replaceChildren();
    for (const r of s.regions) {
      const row = document.createElement('tr'); row.dataset.region = r.name;
      cell(row, r.name); cell(row, r.health, 'state health ' + r.health); cell(row, r.breaker, 'state breaker ' + r.breaker);
      cell(row, r.responses, 'responses'); cell(row, (r.share * 100).toFixed(1) + ' %', 'share');
      if (r.endpoints) cell(row, endpointsText(r), 'endpoints');
      const bar = document.createElement('div'); bar.className = 'bar'; bar.style.width = Math.round(r.share * 200) + 'px';
      cell(row, '').appendChild(bar); body.appendChild(row);
    }
    text('forwarded', s.routing.forwarded); text('failovers', s.routing.failovers); text('errors', s.routing.errors);
    text('hit-rate', s.cache.enabled ? (s.cache.hitRate * 100).toFixed(1) + ' %' : 'off');
    text('event-stream', !s.events ? 'off' : s.events.failClosed ? 'STALE ' + s.events.staleForMs + ' ms: fail-closed routes answer 503' : s.events.caughtUp ? 'caught up' : 'replaying, lag ' + s.events.lag);
    text('cache-counts', s.cache.hits + ' / ' + s.cache.misses); text('in-flight', s.requests.inFlight);
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }
  function live(on, label) { const el = $('live'); el.className = on ? '' : 'off'; el.textContent = label; }
  let polling;
  function poll() {
    if (polling) return;
    polling = setInterval(() => fetch('status.json', { cache: 'no-store' }).then((r) => r.json()).then(render).catch(() => live(false, 'offline')), 2000);
  }
  if ('EventSource' in window) {
    const events = new EventSource('status/events');
    events.addEventListener('status', (e) => { live(true, 'live'); render(JSON.parse(e.data)); });
    events.onerror = () => live(false, 'reconnecting…');
  } else {
    live(true, 'polling'); poll();
  }
  fetch('status.json', { cache: 'no-store' }).then((r) => r.json()).then(render).catch(() => {});
})();
</script>
</body>
</html>
`;
