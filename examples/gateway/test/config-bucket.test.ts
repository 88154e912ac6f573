import { describeNats, useNatsSupercluster } from '@edgekit/test-utils';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { expect, it } from 'vitest';
import { watchConfigBucket } from '../src/index.js';

describeNats('configuration bucket in another region\u2019s cluster', () => {
  const cluster = useNatsSupercluster({ 'us-east': 1, 'ap-south': 1 });

  it('applies the current revision before the watch resolves, then each new revision', async () => {
    const admin = await connect({ servers: cluster.current.urls('us-east') });
    try {
      const kv = await new Kvm(admin).create('edgekit-config-remote', { history: 4, placement: { cluster: 'us-east', tags: [] } });
      const first = await kv.put('gateway', 'edge: { nodeId: a }');
      const applied: string[] = [];
      const watch = await watchConfigBucket(
        { servers: cluster.current.urls('ap-south'), bucket: 'edgekit-config-remote', key: 'gateway', nodeId: 'ap-south-1' },
        async (_raw, source) => applied.push(source),
        () => {},
      );
      try {
        // Read directly, not through the watcher (whose first delivery across a gateway can wait for the server's interest check).
        expect(applied).toEqual([`nats-kv://edgekit-config-remote/gateway@${first}`]);
        expect(watch.revision).toBe(first);
        const second = await kv.put('gateway', 'edge: { nodeId: b }');
        const deadline = Date.now() + 15_000;
        while (applied.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        expect(applied).toEqual([`nats-kv://edgekit-config-remote/gateway@${first}`, `nats-kv://edgekit-config-remote/gateway@${second}`]);
      } finally {
        await watch.close();
      }
    } finally {
      await admin.close();
    }
  }, 60_000);
});
