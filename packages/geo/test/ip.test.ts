import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatForwardedNode, ipFamily, isPublicIp, normalizeIp } from '../src/index.js';

/** Arbitrary IPv6 addresses written in many legal spellings: compressed or not, upper or lower case, with an embedded IPv4 tail. */
const ipv6Spellings = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.boolean(), fc.boolean(), fc.boolean())
  .map(([groups, upper, compress, dotted]) => {
    const parts = groups.map((g) => g.toString(16));
    if (dotted) {
      const hi = groups[6]!;
      const lo = groups[7]!;
      parts.splice(6, 2, `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`);
    }
    let text = parts.join(':');
    if (compress) text = text.replace(/(^|:)0(:0)+(:|$)/, '::');
    return { text: upper ? text.toUpperCase() : text, groups };
  });

describe('normalizeIp', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    [' 203.0.113.9\t', '203.0.113.9'],
    ['203.0.113.9:8080', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['::FFFF:203.0.113.9', '203.0.113.9'],
    ['[::ffff:203.0.113.9]:443', '203.0.113.9'],
    ['0:0:0:0:0:ffff:cb00:7109', '203.0.113.9'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['[2001:db8::1]', '2001:db8::1'],
    ['[2001:db8::1]:8443', '2001:db8::1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['[fe80::1%25en0]:80', 'fe80::1'],
    ['::1', '::1'],
    ['::', '::'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
  ])('normalises %j to %j', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });

  it.each([
    '',
    'unknown',
    '_hidden',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1.2.3.4:99999',
    '1.2.3.4:',
    '1::2::3',
    ':::',
    '1:2:3:4:5:6:7:8:9',
    '1::2:3:4:5:6:7:8',
    '12345::',
    '[::1',
    '[::1]x',
    'fe80::1%',
    '::1\r\nx',
    'g::1',
  ])('rejects %j', (input) => {
    expect(normalizeIp(input)).toBeUndefined();
  });

  it('agrees with node:net on what an address is, and is idempotent', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6(), fc.string(), fc.ipV4Extended()), (text) => {
        const normalized = normalizeIp(text);
        if (isIP(text) !== 0) {
          expect(normalized).toBeDefined();
          expect(isIP(normalized!)).not.toBe(0);
          expect(normalizeIp(normalized!)).toBe(normalized);
        }
        if (normalized !== undefined) expect(normalizeIp(normalized)).toBe(normalized);
      }),
    );
  });

  it('writes every spelling of the same IPv6 address the same way (RFC 5952)', () => {
    fc.assert(
      fc.property(ipv6Spellings, ({ text, groups }) => {
        const normalized = normalizeIp(text)!;
        const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
        if (mapped) {
          expect(isIP(normalized)).toBe(4);
        } else {
          const full = groups.map((g) => g.toString(16)).join(':');
          expect(normalized).toBe(normalizeIp(full));
          expect(normalized).toBe(normalized.toLowerCase());
          expect(normalized).not.toMatch(/(^|:)0[0-9a-f]/);
        }
      }),
    );
  });
});

describe('ipFamily', () => {
  it('reports IPv4-mapped IPv6 as IPv4 and rejects non-addresses', () => {
    expect(ipFamily('10.0.0.1')).toBe(4);
    expect(ipFamily('::ffff:10.0.0.1')).toBe(4);
    expect(ipFamily('::1')).toBe(6);
    expect(ipFamily('localhost')).toBe(0);
  });
});

describe('isPublicIp', () => {
  it.each(['8.8.8.8', '81.2.69.160', '2001:4860:4860::8888', '::ffff:8.8.8.8'])('treats %s as public', (ip) => {
    expect(isPublicIp(ip)).toBe(true);
  });

  it.each([
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '127.0.0.1',
    '0.0.0.0',
    '100.64.0.1',
    '169.254.1.1',
    '192.0.2.1',
    '198.51.100.1',
    '203.0.113.1',
    '198.18.0.1',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'fc00::1',
    'ff02::1',
    '2001:db8::1',
    '::ffff:10.0.0.1',
    'not an ip',
  ])('treats %s as not public', (ip) => {
    expect(isPublicIp(ip)).toBe(false);
  });

  it('keeps the neighbours of special ranges public', () => {
    expect(isPublicIp('172.15.255.255')).toBe(true);
    expect(isPublicIp('172.32.0.0')).toBe(true);
    expect(isPublicIp('100.63.255.255')).toBe(true);
    expect(isPublicIp('100.128.0.0')).toBe(true);
    expect(isPublicIp('223.255.255.255')).toBe(true);
  });
});

describe('formatForwardedNode', () => {
  it('quotes and brackets IPv6 as RFC 7239 requires, and says unknown for non-addresses', () => {
    expect(formatForwardedNode('203.0.113.9')).toBe('203.0.113.9');
    expect(formatForwardedNode('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(formatForwardedNode('2001:DB8::1')).toBe('"[2001:db8::1]"');
    expect(formatForwardedNode('')).toBe('unknown');
  });
});
