import { describeRedis, useRedisCluster } from '@edgekit/test-utils';
import fc from 'fast-check';
import { Cluster, type Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { checkRedisPrefix, redisHashTag, redisScanTargets, scanRedisNode } from '../src/index.js';

// CRC16-XMODEM (polynomial 0x1021, initial 0), the checksum Redis Cluster uses for key slots.
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The slot Redis Cluster assigns to `key`, following its hash-tag rule (cluster.c keyHashSlot). */
function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) return crc16(bytes.subarray(open + 1, close)) % 16384;
  }
  return crc16(bytes) % 16384;
}

const braces = fc.constantFrom('{', '}', '%', '%7B', '%7D', '%25', '{}', '}{');
// User keys rich in the characters that matter to hash tags, plus arbitrary Unicode.
const userKey = fc.oneof(fc.string({ unit: fc.oneof(braces, fc.constantFrom('a', 'b', ':')) }), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }));
const prefix = fc.stringMatching(/^[\x21-\x7a|~]{1,24}$/);
const suffix = fc.string({ unit: fc.oneof(braces, fc.constantFrom('x', ':', 'lock')) });

describe('redisHashTag', () => {
  it('checks the slot function against the CRC16 reference vector', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('foo{}{bar}')).toBe(crc16(Buffer.from('foo{}{bar}')) % 16384);
  });

  it('encodes braces and percent signs, and never yields an empty tag', () => {
    expect(redisHashTag('plain')).toBe('{plain}');
    expect(redisHashTag('')).toBe('{%}');
    expect(redisHashTag('a{b}c%')).toBe('{a%7Bb%7Dc%25}');
  });

  it('puts every key of one logical entry in one slot, the slot of the tag body, whatever the user key, prefix and suffixes', () => {
    fc.assert(
      fc.property(userKey, prefix, prefix, suffix, suffix, (key, p1, p2, s1, s2) => {
        const tag = redisHashTag(key);
        const body = tag.slice(1, -1);
        expect(body.length).toBeGreaterThan(0);
        expect(body).not.toMatch(/[{}]/);
        const slot = crc16(Buffer.from(body, 'utf8')) % 16384;
        expect(keySlot(`${p1}${tag}${s1}`)).toBe(slot);
        expect(keySlot(`${p2}lock:${tag}${s2}`)).toBe(slot);
      }),
      { numRuns: 2_000 },
    );
  });

  it('is one-to-one: distinct user keys never share a tag', () => {
    fc.assert(
      fc.property(userKey, userKey, (a, b) => {
        fc.pre(a !== b);
        expect(redisHashTag(a)).not.toBe(redisHashTag(b));
      }),
      { numRuns: 2_000 },
    );
    // Keys that are another key's encoding stay distinct.
    const tricky = ['', '%', '%25', '{', '%7B', '}', '%7D', '{}', '%7B%7D', '%%', '%2525'];
    expect(new Set(tricky.map(redisHashTag)).size).toBe(tricky.length);
  });
});

describe('checkRedisPrefix', () => {
  it('returns the fallback for undefined and accepts printable ASCII without braces', () => {
    expect(checkRedisPrefix('@edgekit/core', undefined, 'edgekit:x:')).toBe('edgekit:x:');
    expect(checkRedisPrefix('@edgekit/core', 'app|v2~:', 'x')).toBe('app|v2~:');
  });

  it.each(['', 'a{b', 'a}b', 'a b', 'x'.repeat(129), 'é', 42, null])('rejects %o with a TypeError naming the option', (value) => {
    expect(() => checkRedisPrefix('@edgekit/cache', value, 'x')).toThrow(TypeError);
    expect(() => checkRedisPrefix('@edgekit/cache', value, 'x')).toThrow(/@edgekit\/cache: option "prefix" must be 1-128 printable ASCII/);
    expect(() => checkRedisPrefix('@edgekit/swr', value, 'x', 'lock.prefix')).toThrow(/option "lock\.prefix"/);
  });
});

describeRedis(
  'redisHashTag on a real 3-master Redis Cluster',
  () => {
    const cluster = useRedisCluster();

    it('agrees with CLUSTER KEYSLOT, and keys of one logical entry share a slot', async () => {
      const redis = new Cluster(cluster.current.nodes);
      try {
        const cases = fc.sample(fc.tuple(userKey, prefix, suffix), { numRuns: 200, seed: 16 });
        cases.push(['', 'edgekit:', ':a'], ['{a}b', 'edgekit:', '{x}'], ['}{', 'p:', '}'], ['%7B', 'p:', '']);
        for (const [key, p, s] of cases) {
          const tag = redisHashTag(key);
          const value = await redis.cluster('KEYSLOT', `${p}${tag}`);
          const other = await redis.cluster('KEYSLOT', `${p}lock:${tag}${s}`);
          expect(other).toBe(value);
          expect(value).toBe(keySlot(`${p}${tag}`));
        }
      } finally {
        await redis.quit();
      }
    }, 60_000);

    it('scans every master: redisScanTargets and scanRedisNode find each matching key once', async () => {
      const redis = new Cluster(cluster.current.nodes);
      try {
        const written = Array.from({ length: 300 }, (_, i) => `scan:${redisHashTag(`k${i}`)}`);
        await Promise.all(written.map((key) => redis.set(key, '1')));
        await redis.set('other:{x}', '1');
        const targets = redisScanTargets<Redis>(redis);
        expect(targets.length).toBe(3);
        const found: string[] = [];
        for (const node of targets) await scanRedisNode(node, 'scan:*', 7, (keys) => void found.push(...keys));
        expect(new Set(found).size).toBe(found.length);
        expect(found.sort()).toEqual([...written].sort());
      } finally {
        await redis.quit();
      }
    }, 60_000);
  },
  { cluster: true },
);
