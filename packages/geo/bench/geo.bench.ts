// Speed of the per-request paths: IP lookup (bare geoip-lite and maxmind against the cached
// locator), client IP extraction, trust checks and region selection. One command:
//   pnpm --filter @edgekit/geo bench          (GEO_BENCH_MS=2000 for longer samples per row)
// Prints a markdown table of median ns/op and whether the bar (cached lookup <= 100 ns) is met.
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { markdownTable } from '@edgekit/test-utils/node';
import {
  createClientIp,
  createGeoLocator,
  createMmdbResolver,
  createRegionSelector,
  createTrustedProxies,
  clientIp,
  isPublicIp,
  type GeoLocation,
  type RequestLike,
} from '@edgekit/geo';

const TARGET_MS = Number(process.env.GEO_BENCH_MS ?? 700);
const CACHED_LOOKUP_BAR_NS = 100;

interface Target {
  name: string;
  /** Runs the operation `n` times and returns a checksum, so nothing is optimised away. */
  run(n: number): number;
}

interface Result {
  name: string;
  medianNs: number;
  p90Ns: number;
  samples: number;
}

let sink = 0;

function measure(target: Target): Result {
  // Warm up, then size batches so one sample takes about 2 ms.
  let batch = 64;
  for (;;) {
    const start = process.hrtime.bigint();
    sink += target.run(batch);
    const elapsed = Number(process.hrtime.bigint() - start);
    if (elapsed > 2_000_000 || batch >= 1 << 22) break;
    batch *= 2;
  }
  const perOp: number[] = [];
  const deadline = performance.now() + TARGET_MS;
  while (performance.now() < deadline || perOp.length < 15) {
    const start = process.hrtime.bigint();
    sink += target.run(batch);
    perOp.push(Number(process.hrtime.bigint() - start) / batch);
  }
  perOp.sort((a, b) => a - b);
  return {
    name: target.name,
    medianNs: perOp[Math.floor(perOp.length / 2)]!,
    p90Ns: perOp[Math.floor(perOp.length * 0.9)]!,
    samples: perOp.length,
  };
}

/** 1,024 public IPv4 addresses from a fixed seed, so every run looks up the same ones. */
function publicAddresses(count: number): string[] {
  const out: string[] = [];
  let seed = 0x2545f491;
  while (out.length < count) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const ip = `${seed >>> 24}.${(seed >>> 16) & 255}.${(seed >>> 8) & 255}.${seed & 255}`;
    if (isPublicIp(ip)) out.push(ip);
  }
  return out;
}

const require = createRequire(import.meta.url);
const ips = publicAddresses(1024);
const mask = ips.length - 1;

// Peers, loaded outside the timed regions.
const geoip = require('geoip-lite') as { lookup(ip: string): { country: string } | null };
const mmdbPath = join(dirname(require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/package.json')), 'geo-whois-asn-country.mmdb');
const { Reader } = require('maxmind') as { Reader: new (db: Buffer) => { get(ip: string): unknown } };
const { readFileSync } = require('node:fs') as typeof import('node:fs');
const reader = new Reader(readFileSync(mmdbPath));

const cached = createGeoLocator();
const uncached = createGeoLocator({ max: 0 });
await cached.ready();
for (const ip of ips) cached.lookup(ip);
const mmdbLocator = createGeoLocator({ resolver: createMmdbResolver({ path: mmdbPath, watch: false }), max: 0 });
await mmdbLocator.ready();

const trusted = createTrustedProxies(['loopback', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']);
const ipOf = createClientIp({ trustedProxies: trusted });
const requests: RequestLike[] = ips.slice(0, 256).map((ip, i) => ({
  socket: { remoteAddress: i % 2 === 0 ? '10.0.0.1' : '::ffff:10.0.0.1' },
  headers: { 'x-forwarded-for': `${ips[(i * 7) & mask]}, ${ip}, 10.1.2.3` },
}));
const locateLocator = createGeoLocator({ trustedProxies: trusted });
await locateLocator.ready();
for (const req of requests) locateLocator.locateRequest(req);

const selector = createRegionSelector({
  regions: [
    { name: 'eu-central', url: 'https://eu-central.example.com', location: { lat: 50.11, lon: 8.68 } },
    { name: 'eu-west', url: 'https://eu-west.example.com', location: { lat: 53.35, lon: -6.26 } },
    { name: 'us-east', url: 'https://us-east.example.com', location: { lat: 39.04, lon: -77.49 } },
    { name: 'us-west', url: 'https://us-west.example.com', location: { lat: 45.84, lon: -119.7 } },
    { name: 'ap-southeast', url: 'https://ap-southeast.example.com', location: { lat: 1.35, lon: 103.82 } },
  ],
  rules: { countries: { CN: 'ap-southeast' }, continents: { SA: 'us-east' } },
});
selector.recordLatency('eu-west', 30);
const locations: GeoLocation[] = ips.map((ip) => cached.lookup(ip)).filter((l): l is GeoLocation => l !== null);
const locationMask = (1 << Math.floor(Math.log2(locations.length))) - 1;

const targets: Target[] = [
  {
    name: 'geoip-lite `lookup()` (bare, city data)',
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += geoip.lookup(ips[i & mask]!)?.country.length ?? 0;
      return s;
    },
  },
  {
    name: 'maxmind `Reader.get()` (bare, country .mmdb)',
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += reader.get(ips[i & mask]!) === null ? 0 : 1;
      return s;
    },
  },
  {
    name: '**locator `lookup()`, cached** (geoip-lite)',
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += cached.lookup(ips[i & mask]!)?.source.length ?? 0;
      return s;
    },
  },
  {
    name: 'locator `lookup()`, no cache (geoip-lite)',
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += uncached.lookup(ips[i & mask]!)?.source.length ?? 0;
      return s;
    },
  },
  {
    name: 'locator `lookup()`, no cache (mmdb)',
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += mmdbLocator.lookup(ips[i & mask]!)?.source.length ?? 0;
      return s;
    },
  },
  {
    name: '`createClientIp()` function (XFF, 2 trusted hops)',
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += ipOf(requests[i & 255]!).length;
      return s;
    },
  },
  {
    name: '`clientIp(req, { trustedProxies })` per call',
    run(n) {
      let s = 0;
      const options = { trustedProxies: trusted };
      for (let i = 0; i < n; i++) s += clientIp(requests[i & 255]!, options).length;
      return s;
    },
  },
  {
    name: 'trusted-proxy predicate (5 CIDRs)',
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += trusted(ips[i & mask]!) ? 1 : 0;
      return s;
    },
  },
  {
    name: 'locator `locateRequest()`, cached',
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += locateLocator.locateRequest(requests[i & 255]!)?.source.length ?? 0;
      return s;
    },
  },
  {
    name: 'selector `select()` (5 regions)',
    run(n) {
      let s = 0;
      for (let i = 0; i < n; i++) s += selector.select(locations[i & locationMask]!).regions.length;
      return s;
    },
  },
];

const results = targets.map(measure);
const peer = results[0]!;
const cachedResult = results.find((r) => r.name.includes('cached** (geoip-lite)'))!;
const fmt = (ns: number): string => (ns >= 100 ? ns.toFixed(0) : ns.toFixed(1));
console.log(`\n@edgekit/geo benchmark: Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, load ${loadavg()[0]!.toFixed(2)}, ~${TARGET_MS} ms per row\n`);
const ratio = (r: Result): string => {
  if (r === peer) return '1.00 (peer)';
  const x = peer.medianNs / r.medianNs;
  return x >= 1 ? `${x.toFixed(2)}x faster` : `${(1 / x).toFixed(2)}x slower`;
};
console.log(
  markdownTable(
    ['operation', 'median ns/op', 'p90 ns/op', 'ops/s (median)', 'vs bare geoip-lite lookup'],
    results.map((r) => [r.name, fmt(r.medianNs), fmt(r.p90Ns), Math.round(1e9 / r.medianNs).toLocaleString('en-US'), ratio(r)]),
  ),
);
const met = cachedResult.medianNs <= CACHED_LOOKUP_BAR_NS;
console.log(`\nBar: cached lookup median <= ${CACHED_LOOKUP_BAR_NS} ns/op: ${met ? 'MET' : 'NOT MET'} (${fmt(cachedResult.medianNs)} ns/op)`);
if (sink === 42) console.log('');
await Promise.all([cached.close(), uncached.close(), mmdbLocator.close(), locateLocator.close(), selector.close()]);
