// Memory cost of each data set, each measured in a fresh child process (so one data set's buffers
// never count for another): RSS, V8 heap and off-heap buffers before and after loading.
//   pnpm --filter @edgekit/geo bench:memory
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { markdownTable, tsNodeArgs } from '@edgekit/test-utils/node';

const DATA_SETS = {
  'geoip-lite city (default)': { resolver: 'geoip-lite' },
  'geoip-lite country': { resolver: 'geoip-lite-country' },
  'mmdb: @ip-location-db/geo-whois-asn-country-mmdb (maxmind)': { resolver: 'mmdb' },
  'LRU cache full: 10,000 addresses with locations': { resolver: 'cache' },
} as const;
type DataSet = keyof typeof DATA_SETS;

interface Snapshot {
  rss: number;
  heapUsed: number;
  external: number;
}

const MB = 1024 * 1024;

async function child(name: DataSet): Promise<void> {
  const geo = await import('@edgekit/geo');
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run the child with --expose-gc');
  const snapshot = (): Snapshot => {
    gc();
    gc();
    const usage = process.memoryUsage();
    return { rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external };
  };
  const choice = DATA_SETS[name].resolver;
  const require = createRequire(import.meta.url);
  const mmdbPath = join(dirname(require.resolve('@ip-location-db/geo-whois-asn-country-mmdb/package.json')), 'geo-whois-asn-country.mmdb');
  if (choice === 'mmdb') require('maxmind'); // the library's own code is not data: load it before the baseline
  if (choice === 'cache') {
    // Distinct public addresses, each with its own location object, as a busy gateway would cache.
    const addresses = Array.from({ length: 10_000 }, (_, i) => `81.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    const locator = geo.createGeoLocator({ resolver: (ip) => ({ country: 'GB', lat: 51.5 + ip.length / 1000, lon: -0.1, city: 'London' }) });
    const before = snapshot();
    for (const ip of addresses) locator.lookup(ip);
    const after = snapshot();
    console.log(JSON.stringify({ name, before, after, country: locator.lookup(addresses[0]!)?.country, size: locator.stats().size }));
    await locator.close();
    return;
  }
  const locator = geo.createGeoLocator({
    resolver: choice === 'mmdb' ? geo.createMmdbResolver({ path: mmdbPath, watch: false }) : choice,
    max: 0,
  });
  const before = snapshot();
  await locator.ready();
  const answer = locator.lookup('81.2.69.160');
  const after = snapshot();
  console.log(JSON.stringify({ name, before, after, country: answer?.country }));
  await locator.close();
}

async function parent(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const rows: Array<Array<string | number>> = [];
  for (const name of Object.keys(DATA_SETS) as DataSet[]) {
    const output = await new Promise<string>((resolve, reject) => {
      const proc = spawn(process.execPath, ['--expose-gc', ...tsNodeArgs(), self, '--child', name], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      proc.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      proc.on('error', reject);
      proc.on('exit', (code) => (code === 0 ? resolve(text) : reject(new Error(`${name}: child exited with ${code}`))));
    });
    const result = JSON.parse(output.trim().split('\n').at(-1)!) as { before: Snapshot; after: Snapshot; country?: string };
    const delta = (key: keyof Snapshot): string => ((result.after[key] - result.before[key]) / MB).toFixed(1);
    rows.push([name, delta('rss'), delta('heapUsed'), delta('external'), result.country ?? '-']);
  }
  console.log(`\n@edgekit/geo memory per data set: Node ${process.version}, each in a fresh process, after gc()\n`);
  console.log(markdownTable(['data set', 'RSS delta (MB)', 'V8 heap delta (MB)', 'external/buffers delta (MB)', 'lookup check'], rows));
}

const childIndex = process.argv.indexOf('--child');
if (childIndex !== -1) await child(process.argv[childIndex + 1] as DataSet);
else await parent();
