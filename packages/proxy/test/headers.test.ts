import { type Forwarder, HOP_BY_HOP_HEADERS, createForwarder } from '@edgekit/proxy';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { connectionTokens } from '../src/hop-by-hop.js';
import { forwardedValue } from '../src/request-headers.js';
import { type Upstream, rawExchange, send, startFront, startUpstream } from './helpers.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function setup(options: Partial<Parameters<typeof createForwarder>[0]> = {}, upstream?: Upstream): Promise<{ eu: Upstream; url: string; port: number; forwarder: Forwarder }> {
  const eu = upstream ?? (await startUpstream('eu'));
  cleanup.push(() => eu.close());
  const forwarder = createForwarder({ regions: [eu.region()], ...options });
  const front = await startFront(forwarder);
  cleanup.push(async () => {
    await front.close();
    await forwarder.close();
  });
  return { eu, url: front.url, port: front.port, forwarder };
}

function headerBlock(response: string): string {
  return response.slice(0, response.indexOf('\r\n\r\n')).toLowerCase();
}

describe('hop-by-hop headers (RFC 9110 §7.6.1)', () => {
  it('removes hop-by-hop request headers and every header named in Connection', async () => {
    const { eu, port } = await setup();
    const response = await rawExchange(
      port,
      'GET /h HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Hop-Secret, close\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n' +
        'Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\nTrailer: X-Checksum\r\nUpgrade: websocket\r\nX-Hop-Secret: 1\r\nX-End-To-End: kept\r\n\r\n',
    );
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    const headers = eu.received[0]!.headers;
    for (const name of ['keep-alive', 'te', 'proxy-authorization', 'proxy-connection', 'trailer', 'upgrade', 'x-hop-secret']) {
      expect(headers, name).not.toHaveProperty(name);
    }
    // undici's own connection management header, not the client's.
    expect(headers.connection).toBe('keep-alive');
    expect(headers['x-end-to-end']).toBe('kept');
  });

  it('removes hop-by-hop response headers and every header named in Connection', async () => {
    const eu = await startUpstream('eu', {
      kind: 'custom',
      handle: (_req, res) => {
        res.setHeader('Connection', 'X-Internal-Trace');
        res.setHeader('X-Internal-Trace', 'node-7');
        res.setHeader('Keep-Alive', 'timeout=99');
        res.setHeader('Proxy-Authenticate', 'Basic realm="upstream"');
        res.setHeader('Trailer', 'X-Checksum');
        res.setHeader('Upgrade', 'h2c');
        res.setHeader('X-Public', 'yes');
        res.end('body');
      },
    });
    const { port } = await setup({}, eu);
    const response = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const head = headerBlock(response);
    expect(head).toMatch(/^http\/1\.1 200/);
    expect(head).not.toContain('x-internal-trace');
    expect(head).not.toContain('timeout=99');
    expect(head).not.toContain('proxy-authenticate');
    expect(head).not.toContain('trailer:');
    expect(head).not.toContain('upgrade:');
    expect(head).toContain('x-public: yes');
    expect(response.slice(response.indexOf('\r\n\r\n'))).toContain('body');
  });

  it('streams a chunked request body upstream without the client framing headers', async () => {
    const { eu, port } = await setup();
    const response = await rawExchange(port, 'POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(eu.received[0]!.body).toBe('hello world');
  });

  it('lists the standard hop-by-hop set', () => {
    expect([...HOP_BY_HOP_HEADERS].sort()).toEqual(
      ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'].sort(),
    );
  });
});

describe('forwarding headers', () => {
  it('does not trust a forged X-Forwarded-For from an untrusted peer: the chain is replaced', async () => {
    const { eu, url } = await setup();
    await send(`${url}/x`, { headers: { 'x-forwarded-for': '6.6.6.6', forwarded: 'for=6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', host: 'shop.example' } });
    const h = eu.received[0]!.headers;
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(h.forwarded).toBe('for=127.0.0.1;host=shop.example;proto=http');
    expect(h['x-forwarded-proto']).toBe('http');
    expect(h['x-forwarded-host']).toBe('shop.example');
  });

  it('appends to the chain of a trusted proxy and keeps its proto and host', async () => {
    const { eu, url } = await setup({ trustedProxies: ['loopback'] });
    await send(`${url}/x`, {
      headers: { 'x-forwarded-for': '203.0.113.9, 10.0.0.2', forwarded: 'for=203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example', host: 'internal:8080' },
    });
    const h = eu.received[0]!.headers;
    expect(h['x-forwarded-for']).toBe('203.0.113.9, 10.0.0.2, 127.0.0.1');
    expect(h.forwarded).toBe('for=203.0.113.9, for=127.0.0.1;host="internal:8080";proto=http');
    expect(h['x-forwarded-proto']).toBe('https');
    expect(h['x-forwarded-host']).toBe('shop.example');
  });

  it('locates the client from a trusted chain, not from a forged one', async () => {
    const located: string[] = [];
    const { url } = await setup({ trustedProxies: ['loopback'], locate: (ip) => (located.push(ip), null) });
    await send(`${url}/x`, { headers: { 'x-forwarded-for': '198.51.100.7' } });
    const other = await setup({ locate: (ip) => (located.push(ip), null) });
    await send(`${other.url}/x`, { headers: { 'x-forwarded-for': '198.51.100.7' } });
    expect(located).toEqual(['198.51.100.7', '127.0.0.1']);
  });

  it('passes claims about the client other than the forwarding chain (X-Real-IP, ...) on from a trusted peer only', async () => {
    const claims = { 'x-real-ip': '6.6.6.6', 'true-client-ip': '6.6.6.6', 'cf-connecting-ip': '6.6.6.6', 'x-forwarded-port': '8443', 'x-forwarded-ssl': 'on', 'x-url-scheme': 'https', 'front-end-https': 'on' };
    const direct = await setup();
    await send(`${direct.url}/x`, { headers: { ...claims, 'x-kept': 'yes' } });
    const seen = direct.eu.received[0]!.headers;
    for (const name of Object.keys(claims)) expect(seen, name).not.toHaveProperty(name);
    expect(seen['x-kept']).toBe('yes');
    const behindProxy = await setup({ trustedProxies: ['loopback'] });
    await send(`${behindProxy.url}/x`, { headers: claims });
    const vouched = behindProxy.eu.received[0]!.headers;
    for (const [name, value] of Object.entries(claims)) expect(vouched[name], name).toBe(value);
  });

  it('drops "_" spellings of the fields it manages, which CGI-style origins read as the "-" ones', async () => {
    const { eu, port } = await setup({ trustedProxies: ['loopback'] });
    const response = await rawExchange(
      port,
      'GET /x HTTP/1.1\r\nHost: shop.example\r\nX_Forwarded_Host: evil.example\r\nX_Forwarded_For: 6.6.6.6\r\nX_Real_IP: 6.6.6.6\r\n' +
        'Proxy_Authorization: Basic c2VjcmV0\r\nX_Custom_Field: kept\r\nConnection: close\r\n\r\n',
    );
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    const names = Object.keys(eu.received[0]!.headers);
    expect(names.filter((name) => name.includes('_'))).toEqual(['x_custom_field']);
    expect(eu.received[0]!.headers['x-forwarded-host']).toBe('shop.example');
  });

  it('with forwardedHeader "forwarded" extends only a trusted peer\'s Forwarded chain and locates from it', async () => {
    const located: string[] = [];
    const { eu, url } = await setup({ trustedProxies: ['loopback'], forwardedHeader: 'forwarded', locate: (ip) => (located.push(ip), null) });
    // The proxy writes Forwarded; a client's own X-Forwarded-For came through it untouched.
    await send(`${url}/x`, { headers: { forwarded: 'for=203.0.113.9', 'x-forwarded-for': '6.6.6.6', host: 'shop.example' } });
    const h = eu.received[0]!.headers;
    expect(located).toEqual(['203.0.113.9']);
    expect(h.forwarded).toBe('for=203.0.113.9, for=127.0.0.1;host=shop.example;proto=http');
    expect(h['x-forwarded-for']).toBe('127.0.0.1');
    expect(() => createForwarder({ regions: [eu.region()], forwardedHeader: 'x-real-ip' as never })).toThrow(/forwardedHeader/);
  });

  it('appends its Via entry to requests and responses', async () => {
    const eu = await startUpstream('eu', { kind: 'ok', headers: { via: '1.1 origin-cache' } });
    const { url } = await setup({ via: 'edge-fra' }, eu);
    const reply = await send(`${url}/x`, { headers: { via: '1.0 corporate' } });
    expect(eu.received[0]!.headers.via).toBe('1.0 corporate, 1.1 edge-fra');
    expect(reply.headers.via).toBe('1.1 origin-cache, 1.1 edge-fra');
    expect(reply.headers['x-served-by']).toBe('eu');
  });

  it('sends the region host upstream unless preserveHost is set', async () => {
    const first = await setup();
    await send(`${first.url}/x`, { headers: { host: 'shop.example' } });
    expect(first.eu.received[0]!.headers.host).toBe(`127.0.0.1:${first.eu.port}`);
    const second = await setup({ preserveHost: true, via: false, servedByHeader: false });
    const reply = await send(`${second.url}/x`, { headers: { host: 'shop.example' } });
    expect(second.eu.received[0]!.headers.host).toBe('shop.example');
    expect(second.eu.received[0]!.headers.via).toBeUndefined();
    expect(reply.headers['x-served-by']).toBeUndefined();
  });

  it('forwards to a region URL with a base path', async () => {
    const eu = await startUpstream('eu');
    cleanup.push(() => eu.close());
    const forwarder = createForwarder({ regions: [{ name: 'eu', url: `${eu.url}/v2/`, location: { lat: 0, lon: 0 } }] });
    const front = await startFront(forwarder);
    cleanup.push(async () => {
      await front.close();
      await forwarder.close();
    });
    await send(`${front.url}/users?page=2`);
    expect(eu.received[0]!.url).toBe('/v2/users?page=2');
  });

  it('keeps repeated end-to-end headers and upstream Set-Cookie lines apart', async () => {
    const eu = await startUpstream('eu', { kind: 'ok', headers: { 'set-cookie': ['a=1', 'b=2'] } });
    const { url } = await setup({}, eu);
    const reply = await send(`${url}/x`, { headers: { 'x-tag': ['one', 'two'] } });
    expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(eu.received[0]!.headers['x-tag']).toBe('one, two');
  });
});

describe('header parsing helpers', () => {
  it('connectionTokens returns the lower-cased field names and drops close and keep-alive', () => {
    expect(connectionTokens(' Keep-Alive , X-A,close,,X-b ')).toEqual(['x-a', 'x-b']);
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,10}$/), { maxLength: 6 }), fc.constantFrom(',', ', ', ' ,\t'), (names, separator) => {
        const tokens = connectionTokens(names.join(separator));
        const expected = names.map((n) => n.toLowerCase()).filter((n) => n !== 'close' && n !== 'keep-alive');
        expect(tokens).toEqual(expected);
      }),
    );
  });

  it('forwardedValue quotes what is not a token and the quoted form round-trips', () => {
    expect(forwardedValue('example.com')).toBe('example.com');
    expect(forwardedValue('example.com:8080')).toBe('"example.com:8080"');
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (value) => {
        const out = forwardedValue(value);
        if (out.startsWith('"')) {
          const unquoted = out.slice(1, -1).replace(/\\(.)/g, '$1');
          expect(unquoted).toBe(value);
        } else {
          expect(out).toBe(value);
          expect(value).toMatch(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/);
        }
      }),
    );
  });
});
