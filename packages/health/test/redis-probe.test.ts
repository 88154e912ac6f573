import { createManualClock } from '@edgekit/core/testing';
import { describeRedis, useRedisServer } from '@edgekit/test-utils';
import { Redis } from 'ioredis';
import { afterEach, expect, it, vi } from 'vitest';
import { type HealthChangeEvent, createHealthChecker } from '../src/index.js';

describeRedis('a custom probe: Redis PING with ioredis', () => {
  const redis = useRedisServer();
  const clients: Redis[] = [];
  afterEach(() => {
    for (const client of clients.splice(0)) client.disconnect();
  });

  it('marks Redis unhealthy while it is down and healthy again once it answers PING', async () => {
    const client = new Redis(redis.current.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    clients.push(client);
    // While Redis is down the probe's failing PING is the signal; the client's own connection errors are expected.
    const connectionErrors: Error[] = [];
    client.on('error', (error: Error) => connectionErrors.push(error));
    const clock = createManualClock();
    const checker = createHealthChecker({
      targets: [{ name: 'redis' }],
      probe: () => client.ping(),
      timeout: 1_000,
      unhealthyThreshold: 2,
      healthyThreshold: 2,
      clock,
    });
    const changes: HealthChangeEvent[] = [];
    checker.on('change', (event) => changes.push(event));
    try {
      expect((await checker.checkNow()).redis?.state).toBe('healthy');

      await redis.current.kill();
      // A PING either fails fast (connection closed) or waits for a reconnect; the timeout covers the wait.
      for (let i = 0; i < 2; i++) {
        const result = checker.checkNow();
        await clock.advanceAsync(1_000);
        await result;
      }
      expect(checker.state('redis')).toBe('unhealthy');
      expect(changes.at(-1)).toMatchObject({ name: 'redis', healthy: false, previous: 'healthy' });

      await redis.current.start();
      await vi.waitFor(async () => expect(await client.ping()).toBe('PONG'), { timeout: 15_000, interval: 50 });
      await checker.checkNow();
      await checker.checkNow();
      expect(checker.state('redis')).toBe('healthy');
    } finally {
      await checker.close();
    }
  });
});
