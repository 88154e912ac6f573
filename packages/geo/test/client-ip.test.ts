import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ClientIpOptions, type RequestLike, clientIp, createClientIp, createTrustedProxies, normalizeIp } from '../src/index.js';

const trustedProxies = createTrustedProxies(['loopback', '10.0.0.0/8', '2001:db8:ffff::/48']);
const options: ClientIpOptions = { trustedProxies };

function request(remoteAddress: string | undefined, headers: RequestLike['headers'] = {}): RequestLike {
  return { socket: { remoteAddress }, headers };
}

describe('clientIp: trust boundary', () => {
  it('answers the socket address and ignores every header when the peer is not a trusted proxy', () => {
    const req = request('198.51.100.20', { 'x-forwarded-for': '1.1.1.1', forwarded: 'for=2.2.2.2' });
    expect(clientIp(req, options)).toBe('198.51.100.20');
  });

  it('ignores headers entirely when no trusted proxies are configured (the default)', () => {
    expect(clientIp(request('127.0.0.1', { 'x-forwarded-for': '1.1.1.1' }))).toBe('127.0.0.1');
  });

  it('takes the address the trusted proxy appended, not the forged ones the client sent before it', () => {
    // The client sent "X-Forwarded-For: 6.6.6.6, 7.7.7.7"; the proxy appended the real peer address.
    const req = request('10.0.0.1', { 'x-forwarded-for': '6.6.6.6, 7.7.7.7, 198.51.100.7' });
    expect(clientIp(req, options)).toBe('198.51.100.7');
  });

  it('walks right to left past every trusted proxy in a chain', () => {
    const req = request('10.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.3, 10.0.0.2' });
    expect(clientIp(req, options)).toBe('198.51.100.7');
  });

  it('answers the leftmost address when every hop is a trusted proxy', () => {
    expect(clientIp(request('10.0.0.1', { 'x-forwarded-for': '10.0.0.9, 127.0.0.1' }), options)).toBe('10.0.0.9');
  });

  it('answers the socket address when a trusted proxy sent no forwarding header', () => {
    expect(clientIp(request('10.0.0.1'), options)).toBe('10.0.0.1');
    expect(clientIp(request('10.0.0.1', { 'x-forwarded-for': '' }), options)).toBe('10.0.0.1');
  });

  it('answers an empty string when the socket has no address', () => {
    expect(clientIp(request(undefined, { 'x-forwarded-for': '1.1.1.1' }), options)).toBe('');
    expect(clientIp({ headers: {} }, options)).toBe('');
    expect(clientIp({ headers: {}, socket: null }, options)).toBe('');
  });

  it('accepts trusted proxies as a list or a comma-separated string', () => {
    const req = request('10.0.0.1', { 'x-forwarded-for': '198.51.100.7' });
    expect(clientIp(req, { trustedProxies: ['10.0.0.0/8'] })).toBe('198.51.100.7');
    expect(clientIp(req, { trustedProxies: 'loopback, 10.0.0.0/8' })).toBe('198.51.100.7');
    expect(clientIp(req, { trustedProxies: (ip) => ip === '10.0.0.1' })).toBe('198.51.100.7');
  });

  it('treats a predicate that throws as "not trusted"', () => {
    const req = request('10.0.0.1', { 'x-forwarded-for': '198.51.100.7' });
    expect(clientIp(req, { trustedProxies: () => { throw new Error('boom'); } })).toBe('10.0.0.1');
  });
});

describe('clientIp: address forms', () => {
  it('normalises IPv4-mapped socket addresses and header entries', () => {
    const req = request('::ffff:10.0.0.1', { 'x-forwarded-for': '::ffff:198.51.100.7' });
    expect(clientIp(req, options)).toBe('198.51.100.7');
    expect(clientIp(request('::ffff:198.51.100.20'), options)).toBe('198.51.100.20');
  });

  it('reads IPv6 entries with brackets and ports, and IPv4 entries with ports', () => {
    expect(clientIp(request('::1', { 'x-forwarded-for': '[2001:DB8::1]:51234' }), options)).toBe('2001:db8::1');
    expect(clientIp(request('::1', { 'x-forwarded-for': '198.51.100.7:51234, [2001:db8:ffff::2]:443' }), options)).toBe('198.51.100.7');
    expect(clientIp(request('::1', { 'x-forwarded-for': '2001:db8::1' }), options)).toBe('2001:db8::1');
  });

  it('reads several header lines, right to left across lines', () => {
    const req = request('10.0.0.1', { 'x-forwarded-for': ['6.6.6.6', '198.51.100.7, 10.0.0.2'] });
    expect(clientIp(req, options)).toBe('198.51.100.7');
    const joined = request('10.0.0.1', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.2' });
    expect(clientIp(joined, options)).toBe('198.51.100.7');
  });

  it('skips empty list elements', () => {
    expect(clientIp(request('10.0.0.1', { 'x-forwarded-for': '198.51.100.7, , ,10.0.0.2,' }), options)).toBe('198.51.100.7');
  });
});

describe('clientIp: RFC 7239 Forwarded', () => {
  it('reads quoted IPv6 nodes with ports and ignores the other parameters', () => {
    const req = request('10.0.0.1', { forwarded: 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.1' });
    expect(clientIp(req, options)).toBe('2001:db8:cafe::17');
  });

  it('is case-insensitive in parameter names and tolerates spaces around elements', () => {
    const req = request('10.0.0.1', { forwarded: 'For=198.51.100.7 ;Proto=http ,  FOR=10.0.0.2' });
    expect(clientIp(req, options)).toBe('198.51.100.7');
  });

  it('keeps commas and semicolons inside quoted values from splitting elements', () => {
    const req = request('10.0.0.1', { forwarded: 'for=198.51.100.7;host="a,b;c", for=10.0.0.2;ext="x\\"y,z"' });
    expect(clientIp(req, options)).toBe('198.51.100.7');
  });

  it('stops at the last trustworthy address at an obfuscated or unknown node', () => {
    expect(clientIp(request('10.0.0.1', { forwarded: 'for=6.6.6.6, for=_hidden, for=10.0.0.2' }), options)).toBe('10.0.0.2');
    expect(clientIp(request('10.0.0.1', { forwarded: 'for=6.6.6.6, for="unknown", for=10.0.0.2' }), options)).toBe('10.0.0.2');
    expect(clientIp(request('10.0.0.1', { forwarded: 'for=6.6.6.6, for=unknown' }), options)).toBe('10.0.0.1');
  });

  it('accepts an obfuscated port on a real address', () => {
    expect(clientIp(request('10.0.0.1', { forwarded: 'for="198.51.100.7:_p1"' }), options)).toBe('198.51.100.7');
  });

  it('does not believe an element without for, with two for parameters, or with broken syntax', () => {
    expect(clientIp(request('10.0.0.1', { forwarded: 'for=6.6.6.6, proto=https' }), options)).toBe('10.0.0.1');
    expect(clientIp(request('10.0.0.1', { forwarded: 'for=6.6.6.6;for=7.7.7.7' }), options)).toBe('10.0.0.1');
    expect(clientIp(request('10.0.0.1', { forwarded: 'for=6.6.6.6, for="198.51.100.7' }), options)).toBe('10.0.0.1');
    expect(clientIp(request('10.0.0.1', { forwarded: 'for=6.6.6.6, =x' }), options)).toBe('10.0.0.1');
  });

  it('reads several Forwarded lines in order', () => {
    const req = request('10.0.0.1', { forwarded: ['for=6.6.6.6', 'for=198.51.100.7, for=10.0.0.2'] });
    expect(clientIp(req, options)).toBe('198.51.100.7');
  });
});

describe('clientIp: choosing between X-Forwarded-For and Forwarded', () => {
  const both = request('10.0.0.1', { 'x-forwarded-for': '198.51.100.1', forwarded: 'for=198.51.100.2' });

  it('prefers X-Forwarded-For by default and falls back to Forwarded when it is absent', () => {
    expect(clientIp(both, options)).toBe('198.51.100.1');
    expect(clientIp(request('10.0.0.1', { forwarded: 'for=198.51.100.2' }), options)).toBe('198.51.100.2');
  });

  it('follows the header option', () => {
    expect(clientIp(both, { ...options, header: 'prefer-forwarded' })).toBe('198.51.100.2');
    expect(clientIp(request('10.0.0.1', { 'x-forwarded-for': '198.51.100.1' }), { ...options, header: 'prefer-forwarded' })).toBe('198.51.100.1');
    expect(clientIp(both, { ...options, header: 'forwarded' })).toBe('198.51.100.2');
    expect(clientIp(request('10.0.0.1', { 'x-forwarded-for': '198.51.100.1' }), { ...options, header: 'forwarded' })).toBe('10.0.0.1');
    expect(clientIp(request('10.0.0.1', { forwarded: 'for=198.51.100.2' }), { ...options, header: 'x-forwarded-for' })).toBe('10.0.0.1');
  });

  it('rejects bad options with errors naming them', () => {
    expect(() => clientIp(both, { header: 'x-real-ip' as never })).toThrow(/"header"/);
    expect(() => clientIp(both, { maxHops: 0 })).toThrow(RangeError);
    expect(() => clientIp(both, { trustedProxies: ['10.0.0.0/40'] })).toThrow(/trustedProxies\[0\]/);
  });
});

describe('clientIp: hostile headers', () => {
  const hostile: Array<[string, string | string[]]> = [
    ['binary', '\u0000\u0001\u00ff\ud800, 198.51.100.7'],
    ['CRLF injection', '6.6.6.6\r\nX-Evil: 1, 198.51.100.7'],
    ['only commas', ',,,,,'],
    ['huge', `${'6.6.6.6, '.repeat(20_000)}198.51.100.7`],
    ['huge single token', 'x'.repeat(200_000)],
    ['unicode digits', '١٢٣.١.١.١'],
    ['nested brackets', '[[::1]]:80'],
    ['array with junk', ['', ' , ', '198.51.100.7']],
  ];

  it.each(hostile)('never throws on %s', (_name, value) => {
    for (const header of ['x-forwarded-for', 'forwarded']) {
      expect(() => clientIp(request('10.0.0.1', { [header]: value }), options)).not.toThrow();
    }
  });

  it('stops at the last trustworthy address at the first entry it cannot read', () => {
    expect(clientIp(request('10.0.0.1', { 'x-forwarded-for': '198.51.100.7, 6.6.6.6\r\nX-Evil: 1, 10.0.0.2' }), options)).toBe('10.0.0.2');
    expect(clientIp(request('10.0.0.1', { 'x-forwarded-for': '198.51.100.7, unknown' }), options)).toBe('10.0.0.1');
  });

  it('reads only the last entries of a huge chain of trusted proxies (maxHops)', () => {
    const chain = `${'10.0.0.5, '.repeat(100)}10.0.0.6`;
    expect(clientIp(request('10.0.0.1', { 'x-forwarded-for': `198.51.100.7, ${chain}` }), { ...options, maxHops: 10 })).toBe('10.0.0.5');
    expect(clientIp(request('10.0.0.1', { 'x-forwarded-for': `198.51.100.7, ${chain}` }), { ...options, maxHops: 200 })).toBe('198.51.100.7');
  });

  it('ignores a Forwarded header longer than 64 KiB', () => {
    const forwarded = `for=198.51.100.7, ${'for=10.0.0.5;x="y", '.repeat(5000)}for=10.0.0.6`;
    expect(clientIp(request('10.0.0.1', { forwarded }), { ...options, maxHops: 100_000 })).toBe('10.0.0.1');
  });

  it('ignores non-string header values', () => {
    const req = request('10.0.0.1', { 'x-forwarded-for': [42 as unknown as string, '198.51.100.7'] });
    expect(clientIp(req, options)).toBe('198.51.100.7');
    expect(clientIp(request('10.0.0.1', { 'x-forwarded-for': [42 as unknown as string] }), options)).toBe('10.0.0.1');
  });
});

describe('clientIp: properties', () => {
  const trustedEntry = fc.oneof(
    fc.integer({ min: 0, max: 255 }).map((n) => `10.0.${n}.1`),
    fc.constantFrom('127.0.0.1', '::1', '[::1]:80', '::ffff:10.1.1.1', '2001:db8:ffff::9', '[2001:db8:ffff::9]:443'),
  );
  const publicEntry = fc.oneof(
    fc.integer({ min: 1, max: 254 }).map((n) => `198.51.100.${n}`),
    fc.integer({ min: 1, max: 0xffff }).map((n) => `2001:db8:1::${n.toString(16)}`),
    fc.integer({ min: 1, max: 254 }).map((n) => `[2001:db8:2::${n}]:8080`),
    fc.integer({ min: 1, max: 254 }).map((n) => `203.0.113.${n}:${n * 100}`),
  );
  const junkEntry = fc.oneof(fc.constantFrom('unknown', '_hidden', '', ' ', '1.2.3', '::1::', '[::1', '\r\n'), fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }));
  const entry = fc.oneof({ weight: 4, arbitrary: trustedEntry }, { weight: 3, arbitrary: publicEntry }, { weight: 2, arbitrary: junkEntry });
  const line = fc.tuple(fc.array(entry, { maxLength: 8 }), fc.constantFrom(',', ', ', ' ,')).map(([entries, sep]) => entries.join(sep));
  const header = fc.oneof(line, fc.array(line, { minLength: 1, maxLength: 3 }));
  const remote = fc.oneof(trustedEntry.filter((e) => !e.startsWith('[')), publicEntry.filter((e) => !e.includes(']') && !/:\d+$/.test(e)));

  /** HTTP optional whitespace is spaces and tabs only (RFC 9110 §5.6.3). */
  const trimSpaces = (text: string): string => text.replace(/^[ \t]+|[ \t]+$/g, '');

  /** Reference walk: split, trim, skip empties, right to left. */
  function expectedAnswer(remoteAddress: string, value: string | string[]): string {
    const socket = normalizeIp(remoteAddress)!;
    if (!trustedProxies(socket)) return socket;
    const entries = (Array.isArray(value) ? value : [value]).flatMap((l) => l.split(',')).map(trimSpaces).filter((e) => e !== '');
    let last = socket;
    for (let i = entries.length - 1; i >= 0; i--) {
      const address = normalizeIp(entries[i]!);
      if (address === undefined) return last;
      if (!trustedProxies(address)) return address;
      last = address;
    }
    return last;
  }

  it('matches a plain right-to-left walk of X-Forwarded-For', () => {
    fc.assert(
      fc.property(remote, header, (remoteAddress, value) => {
        expect(clientIp(request(remoteAddress, { 'x-forwarded-for': value }), options)).toBe(expectedAnswer(remoteAddress, value));
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws and answers the socket or a header address with only trusted hops to its right', () => {
    const commaFree = entry.map((e) => e.replaceAll(',', ';'));
    const lines = fc.array(fc.array(commaFree, { maxLength: 8 }), { maxLength: 3 });
    const modes = fc.constantFrom<ClientIpOptions['header']>('prefer-x-forwarded-for', 'prefer-forwarded', 'forwarded', 'x-forwarded-for');
    fc.assert(
      fc.property(remote, lines, lines, modes, (remoteAddress, xffLines, fwdLines, mode) => {
        const xff = xffLines.map((l) => l.join(', '));
        const forwarded = fwdLines.map((l) => l.map((e) => (trimSpaces(e) === '' ? '' : `for="${trimSpaces(e).replace(/["\\]/g, '\\$&')}"`)).join(', '));
        const answer = clientIp(request(remoteAddress, { 'x-forwarded-for': xff, forwarded }), { ...options, header: mode });
        const socket = normalizeIp(remoteAddress)!;
        if (answer === socket) return;
        expect(trustedProxies(socket)).toBe(true);
        const xffPresent = xff.length > 0;
        const fwdPresent = forwarded.length > 0;
        const useForwarded = mode === 'forwarded' || (mode === 'prefer-forwarded' && (fwdPresent || !xffPresent)) || (mode === 'prefer-x-forwarded-for' && !xffPresent && fwdPresent);
        const entries = (useForwarded ? fwdLines : xffLines).flat().map(trimSpaces).filter((e) => e !== '');
        const positions = entries.map((e, i) => (normalizeIp(e) === answer ? i : -1)).filter((i) => i !== -1);
        const onlyTrustedToTheRight = (p: number) => entries.slice(p + 1).every((e) => normalizeIp(e) !== undefined && trustedProxies(normalizeIp(e)!));
        expect(positions.some(onlyTrustedToTheRight), `${answer} in ${JSON.stringify(entries)}`).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('gives the same answers compiled once with createClientIp', () => {
    const ipOf = createClientIp(options);
    fc.assert(
      fc.property(remote, header, (remoteAddress, value) => {
        const req = request(remoteAddress, { 'x-forwarded-for': value });
        expect(ipOf(req)).toBe(clientIp(req, options));
      }),
    );
  });
});
