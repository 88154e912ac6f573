import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTrustedProxies, normalizeIp } from '../src/index.js';

describe('createTrustedProxies', () => {
  it('matches IPv4 CIDRs, single addresses and IPv4-mapped IPv6 forms of them', () => {
    const trusted = createTrustedProxies(['10.0.0.0/8', '192.0.2.7', '172.16.0.0/255.240.0.0']);
    expect(trusted('10.255.255.255')).toBe(true);
    expect(trusted('::ffff:10.1.2.3')).toBe(true);
    expect(trusted('[::ffff:10.1.2.3]:443')).toBe(true);
    expect(trusted('192.0.2.7')).toBe(true);
    expect(trusted('192.0.2.8')).toBe(false);
    expect(trusted('172.31.0.1')).toBe(true);
    expect(trusted('172.32.0.1')).toBe(false);
    expect(trusted('11.0.0.0')).toBe(false);
  });

  it('matches IPv6 CIDRs whatever the spelling and zone of the address', () => {
    const trusted = createTrustedProxies(['2001:db8::/32', 'fe80::/10']);
    expect(trusted('2001:DB8:0:0:0:0:0:1')).toBe(true);
    expect(trusted('[2001:db8:ffff::1]:8080')).toBe(true);
    expect(trusted('fe80::1%eth0')).toBe(true);
    expect(trusted('2001:db9::1')).toBe(false);
  });

  it('expands the loopback, private, linklocal and uniquelocal presets', () => {
    const trusted = createTrustedProxies(['loopback', 'private']);
    for (const ip of ['127.0.0.1', '127.9.9.9', '::1', '10.0.0.1', '172.20.0.1', '192.168.0.1', 'fd12::1']) expect(trusted(ip), ip).toBe(true);
    for (const ip of ['8.8.8.8', '169.254.0.1', 'fe80::1', '::2']) expect(trusted(ip), ip).toBe(false);
    const linkLocal = createTrustedProxies('linklocal, uniquelocal');
    expect(linkLocal('169.254.3.4')).toBe(true);
    expect(linkLocal('fe80::abcd')).toBe(true);
    expect(linkLocal('fc00::1')).toBe(true);
    expect(linkLocal('127.0.0.1')).toBe(false);
  });

  it('accepts an IPv6-written CIDR inside ::ffff:0:0/96 as the IPv4 range it covers', () => {
    const trusted = createTrustedProxies(['::ffff:192.168.0.0/112']);
    expect(trusted('192.168.44.1')).toBe(true);
    expect(trusted('192.169.0.1')).toBe(false);
  });

  it('trusts nothing when the list is empty, and rejects garbage input without throwing', () => {
    const trusted = createTrustedProxies([]);
    expect(trusted('127.0.0.1')).toBe(false);
    const loopback = createTrustedProxies('loopback');
    for (const input of ['', 'garbage', '127.0.0.1\r\n', '\u0000', 'x'.repeat(10_000), undefined as unknown as string, 42 as unknown as string]) {
      expect(loopback(input)).toBe(false);
    }
  });

  it('returns a predicate function unchanged', () => {
    const own = (ip: string) => ip === '1.2.3.4';
    expect(createTrustedProxies(own)).toBe(own);
  });

  it.each([
    [['10.0.0.0/33'], RangeError, /trustedProxies\[0\].*10\.0\.0\.0\/33/],
    [['::/129'], RangeError, /trustedProxies\[0\]/],
    [['10.0.0.0/255.0.255.0'], RangeError, /netmask/],
    [['loopback', 'not-an-ip'], TypeError, /trustedProxies\[1\].*"not-an-ip"/],
    [['10.0.0.1:80'], TypeError, /trustedProxies\[0\]/],
    [['10.0.0.0/abc'], RangeError, /trustedProxies\[0\]/],
    [[42], TypeError, /trustedProxies\[0\].*string/],
    ['private, nope', TypeError, /trustedProxies\[1\].*nope/],
    [42, TypeError, /trustedProxies/],
  ])('rejects the bad entry in %j with an error naming it', (list, type, message) => {
    expect(() => createTrustedProxies(list as string[])).toThrow(type);
    expect(() => createTrustedProxies(list as string[])).toThrow(message);
  });

  it('agrees with node:net BlockList for random CIDRs and addresses', () => {
    const cidr4 = fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })).map(([ip, prefix]) => ({ ip, prefix, family: 'ipv4' as const }));
    const cidr6 = fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })).map(([ip, prefix]) => ({ ip, prefix, family: 'ipv6' as const }));
    const usable6 = cidr6.filter(({ ip, prefix }) => isIP(normalizeIp(ip)!) === 6 && prefix < 96);
    const probe = fc.oneof(fc.ipV4(), fc.ipV6());
    fc.assert(
      fc.property(fc.array(fc.oneof(cidr4, usable6), { maxLength: 6 }), fc.array(probe, { minLength: 1, maxLength: 20 }), (cidrs, probes) => {
        const reference = new BlockList();
        for (const { ip, prefix, family } of cidrs) reference.addSubnet(normalizeIp(ip)!, prefix, family);
        const trusted = createTrustedProxies(cidrs.map(({ ip, prefix }) => `${ip}/${prefix}`));
        for (const ip of probes) {
          const normalized = normalizeIp(ip)!;
          const family = isIP(normalized) === 4 ? 'ipv4' : 'ipv6';
          expect(trusted(ip), `${ip} in ${JSON.stringify(cidrs)}`).toBe(reference.check(normalized, family));
        }
      }),
      { numRuns: 300 },
    );
  });
});
