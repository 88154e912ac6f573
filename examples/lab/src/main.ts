import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGeoLocator, createGeoipLiteResolver } from '@edgekit/geo';
import { markdownTable, natsAvailability, redisAvailability } from '@edgekit/test-utils/node';
import { barChartSvg } from './chart.js';
import { createProgress } from './progress.js';
import { runInvalidationScenario } from './scenarios/invalidation.js';
import { type CityLatency, runLatencyScenario } from './scenarios/latency.js';
import { type OutageResult, runOutageScenario } from './scenarios/outage.js';
import { runRegionalStateScenario } from './scenarios/regional-state.js';
import { GEODNS_TTL_MS, runReachScenario } from './scenarios/reach.js';
import { runSwrScenario } from './scenarios/swr.js';
import { globalLimitSection, runGlobalLimitScenario } from './scenarios/global-limit.js';
import { natsFailoverSection, runNatsFailoverScenario } from './scenarios/nats-failover.js';
import { badPodSection, runBadPodScenario } from './scenarios/bad-pod.js';
import { change, ms } from './stats.js';
import { startWorld } from './topology.js';
import { CITIES, DEFAULT_REGIONS } from './world.js';

interface LabOptions {
  routeFactor: number;
  upstreamTimeout: number;
  quick: boolean;
  outDir: string;
  /** How long scenario 6 cuts the ap-south edge off, in seconds. */
  partitionSeconds: number;
  /** Scenario numbers to run; all when undefined. */
  only: Set<number> | undefined;
}

function parseOptions(argv: string[]): LabOptions {
  const here = dirname(fileURLToPath(import.meta.url));
  const options: LabOptions = {
    routeFactor: Number(process.env.LAB_ROUTE_FACTOR ?? 2),
    upstreamTimeout: Number(process.env.LAB_UPSTREAM_TIMEOUT ?? 1_000),
    quick: process.env.LAB_QUICK === '1',
    outDir: process.env.LAB_OUT ?? join(here, '..', 'out'),
    partitionSeconds: Number(process.env.LAB_PARTITION_SECONDS ?? Number.NaN),
    only: process.env.LAB_ONLY ? new Set(process.env.LAB_ONLY.split(',').map(Number)) : undefined,
  };
  for (const arg of argv) {
    if (arg === '--quick') options.quick = true;
    else if (arg.startsWith('--route-factor=')) options.routeFactor = Number(arg.slice('--route-factor='.length));
    else if (arg.startsWith('--out=')) options.outDir = arg.slice('--out='.length);
    else if (arg.startsWith('--partition=')) options.partitionSeconds = Number(arg.slice('--partition='.length));
    else if (arg.startsWith('--only=')) options.only = new Set(arg.slice('--only='.length).split(',').map(Number));
    else if (arg === '--') continue;
    else throw new Error(`lab: unknown argument ${JSON.stringify(arg)} (known: --quick, --route-factor=<n>, --partition=<s>, --only=<n,...>, --out=<dir>)`);
  }
  if (options.only && [...options.only].some((n) => !Number.isInteger(n) || n < 1 || n > SCENARIOS)) throw new RangeError(`lab: --only takes scenario numbers from 1 to ${SCENARIOS}`);
  if (Number.isNaN(options.partitionSeconds)) options.partitionSeconds = options.quick ? 5 : 30;
  if (!Number.isFinite(options.partitionSeconds) || options.partitionSeconds < 1) throw new RangeError(`lab: partition must be >= 1 s (got ${options.partitionSeconds})`);
  if (!Number.isFinite(options.routeFactor) || options.routeFactor < 1) throw new RangeError(`lab: route factor must be a number >= 1 (got ${options.routeFactor})`);
  if (!Number.isFinite(options.upstreamTimeout) || options.upstreamTimeout < 100) throw new RangeError(`lab: LAB_UPSTREAM_TIMEOUT must be >= 100 ms (got ${options.upstreamTimeout})`);
  return options;
}

/** How many scenarios the lab has. */
const SCENARIOS = 9;

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const progress = createProgress();
  const startedAt = Date.now();
  progress.note(`edgekit latency lab: ${DEFAULT_REGIONS.map((r) => `${r.name} (${r.label})`).join(', ')}; ${CITIES.length} client cities; route factor ${options.routeFactor}`);

  const resolver = createGeoipLiteResolver({ dataset: 'country' });
  const locator = createGeoLocator({ resolver });
  await locator.ready();
  const world = await startWorld(DEFAULT_REGIONS, options.routeFactor);
  const ctx = { world, cities: CITIES, locator, progress, upstreamTimeout: options.upstreamTimeout, quick: options.quick };
  try {
    const want = (n: number): boolean => options.only === undefined || options.only.has(n);
    const latency = want(1) ? await runLatencyScenario(ctx) : undefined;
    const outage = want(2) ? await runOutageScenario(ctx) : undefined;
    const invalidation = want(3) ? await runInvalidationScenario(ctx) : undefined;
    const swr = want(4) ? await runSwrScenario(ctx) : undefined;
    const hasNats = natsAvailability().available;
    const canRunRegional = hasNats && redisAvailability().canSpawn;
    if (want(6) && !canRunRegional) progress.note('  ! scenario 6 needs nats-server and redis-server: skipped');
    if ((want(7) || want(8)) && !hasNats) progress.note('  ! scenarios 7 and 8 need nats-server: skipped');
    const regional = want(6) && canRunRegional ? await runRegionalStateScenario(ctx, options.partitionSeconds) : undefined;
    const reach = want(5) ? await runReachScenario(ctx) : undefined;
    const globalLimit = want(7) && hasNats ? await runGlobalLimitScenario(ctx) : undefined;
    const natsFailover = want(8) && hasNats ? await runNatsFailoverScenario(ctx) : undefined;
    const badPodOptions = options.quick ? { requests: 1_000 } : {};
    let badPod: Awaited<ReturnType<typeof runBadPodScenario>> | undefined;
    if (want(9)) {
      const tick = progress.step('scenario 9 · one bad pod of three: round-robin Service vs P2C / peak-EWMA with outlier ejection', 1);
      badPod = await runBadPodScenario(badPodOptions);
      tick();
      progress.done();
    }

    const sections: string[] = [];
    if (latency) sections.push(
      `## 1. Centralized gateway vs edge gateway vs edge cache\n\n` +
        `Milliseconds per request over warm keep-alive connections. Floor: the round trip of light in fibre along the path's great circles; the links inject floor × ${options.routeFactor}.\n\n` +
        markdownTable(
          ['City', 'Edge', 'Origin', 'Centralized p50 / p95', 'Edge p50 / p95', 'Edge cache hit p50 / p95', 'Floor C / E / hit', 'Edge vs centralized (p50)'],
          latency.map((r) => [
            r.city,
            r.edge,
            r.servedBy,
            `${ms(r.centralized.p50)} / ${ms(r.centralized.p95)}`,
            `${ms(r.edgeOnly.p50)} / ${ms(r.edgeOnly.p95)}`,
            `${ms(r.edgeCache.p50)} / ${ms(r.edgeCache.p95)}`,
            `${ms(r.centralized.floor)} / ${ms(r.edgeOnly.floor)} / ${ms(r.edgeCache.floor)}`,
            change(r.edgeOnly.p50, r.centralized.p50),
          ]),
        ),
    );
    if (outage) {
      const [naive, passive, breaker, health] = outage as [OutageResult, OutageResult, OutageResult, OutageResult];
      sections.push(
        `## 2. Regional outage: ap-south stops answering\n\n` +
          `Clients in the cities served by the ap-south edge, during the outage. Upstream timeout ${options.upstreamTimeout} ms (the design article's 5 s, scaled down).\n\n` +
          markdownTable(
            ['Mode', 'Requests', 'Errors', 'Error rate', 'p50 ms', 'p95 ms', 'Mean ms', 'Attempts on ap-south', 'Answered by'],
            outage.map((r) => [r.mode, r.requests, r.errors, pct(r.errorRate), ms(r.p50), ms(r.p95), ms(r.mean), r.attemptsOnDeadRegion, Object.entries(r.servedBy).map(([k, v]) => `${k} ${v}`).join(', ') || '-']),
          ) +
          `\n\n- Breaker failover vs naive retry: error rate ${pct(naive.errorRate)} → ${pct(breaker.errorRate)} (${change(breaker.errorRate, naive.errorRate)}); the design article claims 95% fewer errors.\n` +
          `- Active health checks vs passive detection (failover after each timeout): mean latency ${ms(passive.mean)} → ${ms(health.mean)} ms (${change(health.mean, passive.mean)}), p95 ${ms(passive.p95)} → ${ms(health.p95)} ms (${change(health.p95, passive.p95)}); the design article claims 80-90% less.\n` +
          `- Health checks added to breaker failover: mean latency ${ms(breaker.mean)} → ${ms(health.mean)} ms (${change(health.mean, breaker.mean)}), p95 ${ms(breaker.p95)} → ${ms(health.p95)} ms (${change(health.p95, breaker.p95)}).`,
      );
    }
    if (invalidation) sections.push(
      `## 3. Tag invalidation across edges\n\n` +
        `${invalidation.rounds} invalidations published by the ${invalidation.from} edge over ${invalidation.transport}; time until each edge applied it.\n\n` +
        markdownTable(
          ['Edge', 'p50 ms', 'p95 ms', 'max ms', 'One-way floor ms', 'Injected one-way ms', 'Cache hits right after'],
          invalidation.rows.map((r) => [r.edge, ms(r.p50), ms(r.p95), ms(r.max), ms(r.floor), ms(r.injected), r.staleAfterInvalidation]),
        ),
    );
    if (swr) sections.push(
      `## 4. Stale-while-revalidate while the origin takes 2 s\n\n` +
        `A burst from the cities served by the us-east edge on an entry that has just expired.\n\n` +
        markdownTable(
          ['Variant', 'Requests', 'p50 ms', 'p95 ms', 'max ms', 'Origin calls', 'Errors'],
          swr.map((r) => [r.variant, r.requests, ms(r.p50), ms(r.p95), ms(r.max), r.originCalls, r.errors]),
        ),
    );

    const outageWindow = options.quick ? 3_000 : 6_000;
    if (reach) sections.push(
      `## 5. Reaching an edge through a regional outage: GeoDNS vs anycast vs smart client\n\n` +
        `The ap-south edge stops answering while its cities send requests (4 at a time each) for ${outageWindow / 1000} s. GeoDNS: the nearest region's address, cached for ${GEODNS_TTL_MS / 1000} s. ` +
        `Anycast: the route to the dead edge is withdrawn at once (open connections reset, new ones reach the next-nearest edge). ` +
        `\`@edgekit/client\`: probed latency, breaker, failover of idempotent requests. Request timeout ${options.upstreamTimeout} ms.\n\n` +
        markdownTable(
          ['Reached by', 'Requests', 'Errors', 'p50 ms', 'p95 ms', 'Recovered after', 'Answered by'],
          reach.map((r) => [
            r.mode,
            r.requests,
            r.errors,
            ms(r.p50),
            ms(r.p95),
            r.recoveredAfter === undefined ? `not within ${outageWindow / 1000} s (TTL-bound: up to ${GEODNS_TTL_MS / 1000} s)` : `${ms(r.recoveredAfter)} ms`,
            Object.entries(r.servedBy).map(([k, v]) => `${k} ${v}`).join(', ') || '-',
          ]),
        ) +
        `\n\n- The design article: GeoDNS \"degraded performance can persist for minutes\" (TTL 60-300 s); anycast \"reroutes within seconds\" (modelled here as instant, so only requests in flight fail); smart clients \"implement sophisticated retry logic\" (here: no request lost, the in-flight ones wait out one timeout).`,
    );
    if (regional) {
      const p = regional.partition;
      sections.push(
        `## 6. Regional state: Redis per region, NATS JetStream between regions\n\n` +
          `Redis round trips from the ap-south edge (Mumbai): what every L2 read, lock and rate-limit update pays.\n\n` +
          markdownTable(['Redis', 'p50 ms', 'p95 ms', 'Round-trip floor ms'], regional.l2.map((r) => [r.redis, ms(r.p50), ms(r.p95), ms(r.floorRtt)])) +
          `\n\nThree nats-servers, one cluster per region, joined as a supercluster over links delayed by distance; the stream lives in us-east, each edge reads it through its own durable consumer. An event published by the us-east edge: time until each edge applied it.\n\n` +
          markdownTable(['Edge', 'p50 ms', 'p95 ms', 'One-way floor ms'], regional.propagation.map((r) => [r.region, ms(r.p50), ms(r.p95), ms(r.floorOneWay)])) +
          `\n\nThe ap-south edge's link cut for ${p.seconds} s while us-east revoked keys and purged tags (one every 100 ms).\n\n` +
          markdownTable(
            ['Published during the cut', 'Applied during the cut', 'Heal → caught up ms', 'Applied after', 'Missing', 'In order', 'Stale reads or accepted revoked keys after caught up'],
            [[p.published, p.appliedDuringCut, ms(p.healToCaughtUpMs), p.appliedAfter, p.missing, p.inOrder ? 'yes' : 'NO', p.staleAfterCaughtUp]],
          ) +
          `\n\nA configuration revision put in the key-value bucket (in us-east): time until each region's watcher saw it.\n\n` +
          markdownTable(['Region', 'ms'], regional.config.map((r) => [r.region, ms(r.ms)])),
      );
    }
    if (globalLimit) sections.push(globalLimitSection(globalLimit));
    if (natsFailover) sections.push(natsFailoverSection(natsFailover));
    if (badPod) sections.push(badPodSection(badPod, badPodOptions));

    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
    const report = `# edgekit latency lab\n\nRoute factor ${options.routeFactor}; ${CITIES.length} cities; regions ${DEFAULT_REGIONS.map((r) => r.name).join(', ')}; run took ${seconds} s.\n\n${sections.join('\n\n')}\n`;
    mkdirSync(options.outDir, { recursive: true });
    writeFileSync(join(options.outDir, 'report.md'), report);
    if (latency) writeFileSync(join(options.outDir, 'latency.svg'), latencyChart(latency));
    writeFileSync(
      join(options.outDir, 'results.json'),
      `${JSON.stringify({ options: { routeFactor: options.routeFactor, upstreamTimeout: options.upstreamTimeout, quick: options.quick }, regions: DEFAULT_REGIONS, cities: CITIES, seconds: Number(seconds), latency, outage, invalidation, swr, reach, regional, globalLimit, natsFailover, badPod }, null, 2)}\n`,
    );
    process.stdout.write(`\n${sections.join('\n\n')}\n\n`);
    const rel = relative(process.cwd(), options.outDir) || '.';
    progress.note(`Done in ${seconds} s. Wrote ${rel}/report.md, ${latency ? `${rel}/latency.svg ` : ''}and ${rel}/results.json.`);
  } finally {
    await world.close();
    await locator.close();
  }
}

function latencyChart(rows: CityLatency[]): string {
  return barChartSvg({
    title: 'Median request latency per city (ms): centralized gateway vs edge gateway vs edge cache hit',
    unit: 'ms',
    groups: rows.map((r) => ({
      label: r.city,
      values: [
        { series: 'centralized (us-east)', value: r.centralized.p50 },
        { series: 'edge', value: r.edgeOnly.p50 },
        { series: 'edge cache hit', value: r.edgeCache.p50 },
      ],
      floors: [
        { series: 'centralized (us-east)', value: r.centralized.floor },
        { series: 'edge', value: r.edgeOnly.floor },
        { series: 'edge cache hit', value: r.edgeCache.floor },
      ],
    })),
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`lab failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
