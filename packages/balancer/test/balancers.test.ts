import { createManualClock } from '@edgekit/core/testing';
import { createAffinityKey, createPeakEwmaBalancer, createRoundRobinBalancer, toEndpoints } from '@edgekit/balancer';
import { seededRandom } from '@edgekit/balancer/testing';
import { describe, expect, it } from 'vitest';

describe('smooth weighted round robin', () => {
  it('interleaves weights 5:1:1 as a a b a c a a', () => {
    const balancer = createRoundRobinBalancer();
    const [a, b, c] = toEndpoints(
      [
        { url: 'http://a:1', id: 'a', weight: 5 },
        { url: 'http://b:1', id: 'b', weight: 1 },
        { url: 'http://c:1', id: 'c', weight: 1 },
      ],
      'endpoints',
    );
    balancer.setEndpoints([a!, b!, c!]);
    expect(Array.from({ length: 7 }, () => balancer.pick()!.id).join(' ')).toBe('a a b a c a a');
  });
});

describe('peak-EWMA', () => {
  it('moves traffic away from an endpoint that slowed down, and back once it recovers', () => {
    const clock = createManualClock();
    const balancer = createPeakEwmaBalancer({ clock, random: seededRandom(9), decay: 1000 });
    const endpoints = toEndpoints(['http://10.0.0.1:1', 'http://10.0.0.2:1', 'http://10.0.0.3:1'], 'endpoints');
    balancer.setEndpoints(endpoints);
    const round = (latency: (id: string) => number, n: number): Map<string, number> => {
      const counts = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const e = balancer.pick()!;
        balancer.onRequestStart(e);
        clock.advance(10);
        balancer.onRequestEnd(e, { latencyMs: latency(e.id), ok: true });
        counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
      }
      return counts;
    };
    const slow = endpoints[0]!.id;
    const during = round((id) => (id === slow ? 400 : 10), 600);
    expect(during.get(slow) ?? 0).toBeLessThan(600 * 0.1);
    const after = round(() => 10, 3000);
    expect(after.get(slow) ?? 0).toBeGreaterThan(3000 * 0.2);
  });

  it('charges a fast failure the failure penalty, so a failing endpoint does not attract traffic', () => {
    const clock = createManualClock();
    const balancer = createPeakEwmaBalancer({ clock, random: seededRandom(10) });
    const endpoints = toEndpoints(['http://10.0.0.1:1', 'http://10.0.0.2:1'], 'endpoints');
    balancer.setEndpoints(endpoints);
    let bad = 0;
    for (let i = 0; i < 500; i++) {
      const e = balancer.pick()!;
      balancer.onRequestStart(e);
      const failing = e === endpoints[0];
      if (failing) bad++;
      balancer.onRequestEnd(e, { latencyMs: failing ? 1 : 20, ok: !failing });
      clock.advance(5);
    }
    expect(bad).toBeLessThan(50);
  });

  it('rejects bad options with the option named', () => {
    expect(() => createPeakEwmaBalancer({ decay: 0 })).toThrow(/decay/);
    expect(() => createPeakEwmaBalancer({ random: 3 as never })).toThrow(/random/);
  });
});

describe('affinity keys', () => {
  const token = (payload: object): string => `x.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;

  it('reads a header, a cookie, a JWT subject or a function', () => {
    expect(createAffinityKey({ header: 'X-User-Id' })({ headers: { 'x-user-id': 'u1' } })).toBe('u1');
    expect(createAffinityKey({ header: 'x-user-id' })({ headers: { 'x-user-id': '' } })).toBeUndefined();
    const cookie = createAffinityKey({ cookie: 'sid' });
    expect(cookie({ headers: { cookie: 'a=1; sid=abc; b=2' } })).toBe('abc');
    expect(cookie({ headers: { cookie: 'sidx=1; xsid=2' } })).toBeUndefined();
    expect(cookie({ headers: { cookie: 'sid="q"' } })).toBe('q');
    const jwt = createAffinityKey({ jwtSubject: true });
    expect(jwt({ headers: { authorization: `Bearer ${token({ sub: 'alice' })}` } })).toBe('alice');
    expect(jwt({ headers: { authorization: `Bearer ${token({ sub: 7 })}` } })).toBeUndefined();
    expect(jwt({ headers: { authorization: 'Bearer not-a-jwt' } })).toBeUndefined();
    expect(jwt({ headers: { authorization: 'Bearer a.%%%.c' } })).toBeUndefined();
    expect(createAffinityKey({ jwtSubject: { header: 'x-token' } })({ headers: { 'x-token': token({ sub: 'bob' }) } })).toBe('bob');
    expect(createAffinityKey({ key: (r) => String(r.headers.host) })({ headers: { host: 'h' } })).toBe('h');
  });

  it('rejects a malformed source with the option named', () => {
    expect(() => createAffinityKey({ header: '' }, 'services.orders.affinity')).toThrow(/services\.orders\.affinity\.header/);
    expect(() => createAffinityKey({ jwtSubject: 'yes' } as never)).toThrow(/jwtSubject/);
    expect(() => createAffinityKey({ nope: 1 } as never)).toThrow(TypeError);
  });
});
