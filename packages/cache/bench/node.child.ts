// A cache node for the invalidation benchmark: Redis L2 + Redis bus. Records when each remote
// invalidation has been applied (its tags dropped from this node). Usage: node.child.ts <redis url> <prefix>.
// Prints "ready", then on the stdin line "report" prints "report <json [tag, wall ms][]>".
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { createCache } from '../src/index.js';

const [url, prefix] = process.argv.slice(2);
if (!url || !prefix) throw new Error('usage: node.child.ts <redis url> <prefix>');
const redis = new Redis(url, { maxRetriesPerRequest: 1 });
const cache = createCache({ redis, prefix, channel: `${prefix}bus` });
const applied: Array<[string, number]> = [];
const wallNow = (): number => performance.timeOrigin + performance.now();
cache.on('invalidate', (notice) => {
  if (!notice.local && notice.tags[0] !== undefined) applied.push([notice.tags[0], wallNow()]);
});

const ready = setInterval(() => {
  if (cache.stats().l1?.usable) {
    clearInterval(ready);
    console.log('ready');
  }
}, 10);

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'report') console.log(`report ${JSON.stringify(applied)}`);
});
process.on('SIGTERM', () => {
  void cache.close().then(() => redis.quit()).then(() => process.exit(0));
});
