/**
 * One benchmark target in its own process: `server.ts <kind> [originUrl]`. Prints `READY <port>`
 * once listening and exits on SIGTERM. Every proxy runs this way, so none shares an event loop with
 * the load generator or the origin.
 */
import http from 'node:http';
import http2 from 'node:http2';
import { createBreakerRegistry } from '@edgekit/breaker';
import { createGeoLocator, createRegionSelector } from '@edgekit/geo';
import { createHealthChecker } from '@edgekit/health';
import { createForwarder } from '@edgekit/proxy';
import { listen } from '@edgekit/test-utils/node';

const [kind, originUrl = ''] = process.argv.slice(2);

async function origin(): Promise<http.Server> {
  const body = JSON.stringify({ id: 42, name: 'edge', tags: ['a', 'b', 'c'], ok: true });
  return http.createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
      res.end('ok');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

async function edgekit(): Promise<http.Server> {
  // Two regions on the same origin: the client (X-Forwarded-For from a trusted loopback peer) is
  // located with geoip-lite and routed by distance; health and breakers are checked per request.
  const regions = [
    { name: 'eu-central', url: originUrl, location: { lat: 50.11, lon: 8.68 } },
    { name: 'us-east', url: originUrl, location: { lat: 39.04, lon: -77.49 } },
  ];
  const locator = createGeoLocator({ resolver: 'geoip-lite' });
  await locator.ready();
  const selector = createRegionSelector({ regions });
  const breakers = createBreakerRegistry({});
  const health = createHealthChecker({ targets: regions.map((r) => ({ name: r.name, url: r.url })), interval: 1_000, path: '/health' });
  await health.checkNow();
  const forwarder = createForwarder({ selector, locate: locator.lookup, trustedProxies: ['loopback'], health, breakers });
  return http.createServer(forwarder.handler);
}

async function originH2c(): Promise<http2.Http2Server> {
  // The same answer over HTTP/2 in the clear (prior knowledge), for the h2 → h2 rows.
  const body = JSON.stringify({ id: 42, name: 'edge', tags: ['a', 'b', 'c'], ok: true });
  return http2.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

async function edgekitH2c(upstreamHttp2: boolean): Promise<http2.Http2Server> {
  // An h2c listener (prior knowledge) in front of the forwarder; the upstream is HTTP/1.1 or h2c.
  const regions = [{ name: 'eu-central', url: originUrl, location: { lat: 50.11, lon: 8.68 } }];
  const forwarder = createForwarder({ regions, trustedProxies: ['loopback'], http2: upstreamHttp2 });
  return http2.createServer(forwarder.handler as never);
}

async function endpoints(count: number): Promise<http.Server> {
  // One region whose instances are `count` endpoints (all on the benchmark origin, each with its own
  // pool) behind the default P2C least-request balancer and outlier detection; 0: the region's one URL.
  const list = Array.from({ length: count }, (_, i) => ({ url: originUrl, id: `pod-${i}` }));
  const region = { name: 'eu-central', url: originUrl, location: { lat: 50.11, lon: 8.68 } };
  const regions = [count === 0 ? region : { ...region, endpoints: list }];
  const forwarder = createForwarder({ regions, trustedProxies: ['loopback'] });
  return http.createServer(forwarder.handler);
}

async function bareUndici(): Promise<http.Server> {
  // The floor of a Node proxy on undici: request headers copied, response streamed, nothing else
  // (no header rewriting, no routing, no failover, no timeouts). Not a usable proxy; a reference row.
  const { Pool } = await import('undici');
  const pool = new Pool(originUrl, { connections: 128, pipelining: 1 });
  return http.createServer((req, res) => {
    pool.dispatch(
      { path: req.url ?? '/', method: req.method ?? 'GET', headers: req.rawHeaders },
      {
        onConnect() {},
        onHeaders(statusCode, rawHeaders) {
          const headers: string[] = [];
          for (const value of rawHeaders) headers.push(value.toString('latin1'));
          res.writeHead(statusCode, headers);
          return true;
        },
        onData(chunk) {
          return res.write(chunk);
        },
        onComplete() {
          res.end();
        },
        onError() {
          res.destroy();
        },
      },
    );
  });
}

async function fastifyHttpProxy(): Promise<http.Server> {
  const { default: Fastify } = await import('fastify');
  const { default: proxy } = await import('@fastify/http-proxy');
  const app = Fastify({ logger: false });
  await app.register(proxy, { upstream: originUrl });
  await app.ready();
  return app.server;
}

async function nodeHttpProxy(): Promise<http.Server> {
  const { default: httpProxy } = await import('http-proxy');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  const proxy = httpProxy.createProxyServer({ target: originUrl, agent, xfwd: true });
  proxy.on('error', (_error, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502);
    res.end();
  });
  return http.createServer((req, res) => proxy.web(req, res));
}

const factories: Record<string, () => Promise<http.Server | http2.Http2Server>> = {
  'origin-h2c': originH2c,
  'edgekit-h2c-h1': () => edgekitH2c(false),
  'edgekit-h2c-h2': () => edgekitH2c(true),
  origin,
  edgekit,
  'bare-undici': bareUndici,
  'fastify-http-proxy': fastifyHttpProxy,
  'http-proxy': nodeHttpProxy,
  'one-url': () => endpoints(0),
  'endpoints-1': () => endpoints(1),
  'endpoints-3': () => endpoints(3),
};

const factory = kind === undefined ? undefined : factories[kind];
if (factory === undefined) {
  console.error(`unknown target ${kind}; expected one of ${Object.keys(factories).join(', ')}`);
  process.exit(2);
}
const server = await factory();
const port = await listen(server as http.Server);
console.log(`READY ${port}`);
process.on('SIGTERM', () => process.exit(0));
