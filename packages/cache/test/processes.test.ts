import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type TsChild, closeServer, describeRedis, listen, spawnTs, useRedisServer } from '@edgekit/test-utils';
import { afterEach, expect, it } from 'vitest';
import { get } from './helpers.js';

const children: TsChild[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop()));
});

describeRedis('gateway nodes in separate processes over one Redis', () => {
  const redis = useRedisServer();

  it('makes one origin call for concurrent misses of one key across three processes', async () => {
    let originCalls = 0;
    const origin = createServer((_req, res) => {
      originCalls++;
      // A slow origin: every process is waiting on the key while the first fetch runs.
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' });
        res.end('expensive');
      }, 500);
    });
    const originBase = `http://127.0.0.1:${await listen(origin)}`;
    try {
      const prefix = `proc${process.pid}:`;
      const file = fileURLToPath(new URL('./fixtures/gateway-node.ts', import.meta.url));
      for (let i = 0; i < 3; i++) children.push(spawnTs(file, [redis.current.url, prefix, originBase]));
      const ports = await Promise.all(children.map(async (c) => Number((await c.waitForLine((l) => l.startsWith('ready '), 30_000)).split(' ')[1])));
      const responses = await Promise.all(ports.flatMap((port) => Array.from({ length: 4 }, () => get(`http://127.0.0.1:${port}`, '/api/report'))));
      expect(responses.every((r) => r.status === 200 && r.body === 'expensive')).toBe(true);
      expect(originCalls).toBe(1);
    } finally {
      await closeServer(origin);
    }
  }, 60_000);
});
