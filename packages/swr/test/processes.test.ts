import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type TsChild, closeServer, describeRedis, listen, spawnTs, useRedisServer } from '@edgekit/test-utils';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { createSwr } from '../src/index.js';

const children: TsChild[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop()));
});

describeRedis('swr nodes in separate processes over one Redis', () => {
  const redis = useRedisServer();

  it('makes exactly one origin call for concurrent requests of one expired key across three processes', async () => {
    let originCalls = 0;
    let waiting = 0;
    const origin = createServer((_req, res) => {
      originCalls++;
      // The fetch is answered once the two other processes wait on its lock, however slow the machine.
      const answer = (): void => void res.end(`value-${originCalls}`);
      const deadline = Date.now() + 20_000;
      const check = (): void => {
        if (waiting >= 2 || Date.now() > deadline) answer();
        else setTimeout(check, 10);
      };
      check();
    });
    const originBase = `http://127.0.0.1:${await listen(origin)}`;
    const prefix = `proc${process.pid}:`;
    const seeder = new Redis(redis.current.url);
    try {
      // An expired entry: stored with a 1 ms ttl and no stale window.
      const seed = createSwr({ redis: seeder, prefix });
      await seed('report', () => 'old', { ttl: 1 });
      await seed.close();
      const file = fileURLToPath(new URL('./fixtures/swr-node.ts', import.meta.url));
      for (let i = 0; i < 3; i++) children.push(spawnTs(file, [redis.current.url, prefix, originBase]));
      await Promise.all(children.map((c) => c.waitForLine((l) => l === 'ready', 30_000)));
      for (const child of children) void child.waitForLine((l) => l === 'waiting', 30_000).then(() => waiting++, () => undefined);
      for (const child of children) child.send('burst report 100 60000');
      const reports = await Promise.all(children.map(async (c) => JSON.parse((await c.waitForLine((l) => l.startsWith('burst '), 30_000)).slice(6))));
      expect(originCalls).toBe(1);
      for (const report of reports) {
        expect(report.values).toEqual(['value-1']);
        expect(report.statuses).toEqual({ miss: 100 });
      }
      // Exactly one process fetched; the other two waited and were woken by its notice.
      expect(reports.map((r) => r.flight.fetches).sort()).toEqual([0, 0, 1]);
      expect(reports.reduce((n, r) => n + r.flight.notified, 0)).toBe(2);
    } finally {
      await seeder.quit();
      await closeServer(origin);
    }
  }, 60_000);
});
