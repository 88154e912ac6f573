import { fileURLToPath } from 'node:url';
import { type TsChild, describeRedis, spawnTs, useRedisServer } from '@edgekit/test-utils';
import { expect, it } from 'vitest';
import { sendLoad, untilWindowStart } from './fixtures/load.js';

const NODE = fileURLToPath(new URL('./fixtures/limiter-node.ts', import.meta.url));

describeRedis('three gateway processes sharing Redis in edge mode', () => {
  const server = useRedisServer();

  it('admit close to the limit under 3x the allowed load, with little overage', { timeout: 30_000 }, async () => {
    // 300 per 3 s with a 30 ms sync: the 1,000 per hour shape with a 36 s sync, compressed in time.
    const env = { MODE: 'edge', LIMIT: '300', WINDOW: '3000', SYNC_INTERVAL: '30', NAME: `mn${Date.now()}`, REDIS_URL: server.current.url };
    const nodes: TsChild[] = [spawnTs(NODE, [], env), spawnTs(NODE, [], env), spawnTs(NODE, [], env)];
    try {
      const ports = await Promise.all(nodes.map(async (node) => Number((await node.waitForLine((l) => l.startsWith('ready '))).slice(6))));
      const start = await untilWindowStart(3000);
      const outcome = await sendLoad(ports, 300, 2800);
      // Judged on the window the load started in: requests a busy machine delays past its end count in the next.
      const allowed = outcome.allowedByWindow.get(Math.floor(start / 3000)) ?? 0;
      expect(outcome.errors).toBe(0);
      expect(outcome.sent).toBeGreaterThan(600); // at least twice the limit, even on a loaded machine
      expect(outcome.allowed + outcome.refused).toBe(outcome.sent);
      // The formula (N-1) * r * (2S + d) with r = 0.1/ms per node allows 2 * 0.1 * 70 = 14 (4.7%).
      expect(allowed).toBeGreaterThanOrEqual(285);
      expect(allowed).toBeLessThanOrEqual(314);
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
    }
  });
});
