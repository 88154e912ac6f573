import { fileURLToPath } from 'node:url';
import { type TsChild, describeRedis, spawnTs, useRedisServer } from '@edgekit/test-utils';
import { afterEach, expect, it } from 'vitest';

interface Reply {
  node: string;
  command?: string;
  state?: string;
  hintsReceived?: number;
}

describeRedis('shared breaker hints over a Redis bus, three processes', () => {
  const redis = useRedisServer();
  const children: TsChild[] = [];
  afterEach(async () => {
    await Promise.all(children.splice(0).map((child) => child.stop()));
  });

  /** Sends `command` and returns the node's next reply to it. */
  async function run(node: TsChild, name: string, command: string, seen: Map<string, number>): Promise<Reply> {
    const index = (seen.get(name) ?? 0) + 1;
    seen.set(name, index);
    node.send(command);
    let count = 0;
    const line = await node.waitForLine((l) => l.includes('"command"') && ++count === index, 20_000).catch(async () => {
      throw new Error(`${name} did not answer ${command}`);
    });
    return JSON.parse(line) as Reply;
  }

  it('a node that opens tells the others, who open on their first local failure but never without one; hints are rate-bounded', async () => {
    const file = fileURLToPath(new URL('./fixtures/hint-node.ts', import.meta.url));
    const channel = `hints-${process.pid}`;
    const names = ['a', 'b', 'c'];
    for (const name of names) children.push(spawnTs(file, [redis.current.url, name, channel]));
    await Promise.all(children.map((child) => child.waitForLine((l) => l.includes('"ready"'), 30_000)));
    const [a, b, c] = children as [TsChild, TsChild, TsChild];
    const seen = new Map<string, number>();
    // waitForLine sees every line printed so far: count replies per node.
    const replies = async (node: TsChild, name: string, command: string): Promise<Reply> => run(node, name, command, seen);

    // Node a's origin resets connections: five failures in a row open its breaker.
    let reply: Reply | undefined;
    for (let i = 0; i < 5; i++) reply = await replies(a, 'a', 'fail');
    expect(reply?.state).toBe('open');

    // b and c get the hint, and stay closed: a hint never opens a breaker by itself.
    const hinted = async (node: TsChild, name: string, count: number): Promise<Reply> => {
      for (let i = 0; i < 200; i++) {
        const r = await replies(node, name, 'state');
        if ((r.hintsReceived ?? 0) >= count) return r;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`${name} never received hint ${count}`);
    };
    expect((await hinted(b, 'b', 1)).state).toBe('closed');
    expect((await hinted(c, 'c', 1)).state).toBe('closed');

    // b sees one failure of its own: the hint shortened its detection from five failures to one.
    expect((await replies(b, 'b', 'fail')).state).toBe('open');
    // b's opening is itself a hint: wait until c holds it, so c's next steps are judged after it.
    expect((await hinted(c, 'c', 2)).state).toBe('closed');

    // c's own path works: a local success ends the hint, and a later failure is judged alone.
    expect((await replies(c, 'c', 'ok')).state).toBe('closed');
    expect((await replies(c, 'c', 'fail')).state).toBe('closed');

    // a flaps (closed, then open again) three times within minInterval: no new hint is sent.
    for (let round = 0; round < 3; round++) {
      await replies(a, 'a', 'close');
      for (let i = 0; i < 5; i++) reply = await replies(a, 'a', 'fail');
      expect(reply?.state).toBe('open');
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Only b's opening (one hint) arrived at c since a's first one.
    expect((await replies(c, 'c', 'state')).hintsReceived).toBe(2);
    expect((await replies(a, 'a', 'state')).hintsReceived).toBe(1);
  }, 90_000);
});
