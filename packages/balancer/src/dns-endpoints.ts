import { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { type Clock, type ClockTimer, TypedEmitter, checkOptionsObject, describeValue, optionalNumber, optionalOneOf, systemClock } from '@edgekit/core';
import { type Endpoint, sameEndpoints, toEndpoint } from './endpoint.js';
import type { EndpointSet, EndpointSetEvents } from './endpoint-set.js';
import { BalancerError } from './errors.js';

/** The DNS record types a {@link createDnsEndpoints} set reads. */
export type DnsRecordType = 'A' | 'AAAA' | 'A+AAAA' | 'SRV';

/** The parts of `node:dns/promises`' `Resolver` used here; inject one to choose servers or to test. */
export interface DnsResolver {
  resolve4(hostname: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolve6(hostname: string, options: { ttl: true }): Promise<{ address: string; ttl: number }[]>;
  resolveSrv(hostname: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
  cancel(): void;
}

/** Options of {@link createDnsEndpoints}; durations in ms. */
export interface DnsEndpointsOptions {
  /** Name to resolve: a host (`orders.prod.svc.cluster.local`, a Kubernetes headless Service) or an SRV name. */
  name: string;
  /** Record type. Default `'A'`. `'SRV'` reads ports and weights from the answer (RFC 2782). */
  record?: DnsRecordType;
  /** Port of every address (A/AAAA). Default 80, or 443 for https. */
  port?: number;
  /** Scheme of the endpoint origins. Default `'http'`. */
  protocol?: 'http' | 'https';
  /** Shortest time between queries, whatever the TTL (also the retry delay after a failure). Default 1000. */
  minTtl?: number;
  /** Longest time between queries, whatever the TTL. Default 60000. */
  maxTtl?: number;
  /** DNS servers (`'10.96.0.10'`, `'127.0.0.1:5353'`). Default: the system's. Ignored with `resolver`. */
  servers?: readonly string[];
  /** Timeout of one query. Default 2000. Ignored with `resolver`. */
  timeout?: number;
  /** A resolver of your own. Default: a `node:dns/promises` `Resolver`. */
  resolver?: DnsResolver;
  /** Time source and timers. Default `systemClock`. */
  clock?: Clock;
}

/** Defaults of {@link createDnsEndpoints}. */
export const DNS_ENDPOINTS_DEFAULTS = Object.freeze({ record: 'A' as DnsRecordType, protocol: 'http' as const, minTtl: 1000, maxTtl: 60_000, timeout: 2000 });

interface Answer {
  endpoints: Endpoint[];
  ttlMs: number;
}

// An empty answer is the truth (a Service scaled to zero); other failures keep the last list.
const EMPTY_ANSWER_CODES = new Set(['ENODATA', 'ENOTFOUND']);

const isEmptyAnswer = (error: unknown): boolean => EMPTY_ANSWER_CODES.has((error as { code?: string } | null)?.code ?? '');

/**
 * An endpoint set discovered through DNS, re-resolved when the shortest TTL of the answer expires,
 * kept between `minTtl` and `maxTtl`. A failed query keeps the last known endpoints, emits
 * `error` and retries after `minTtl`.
 */
export function createDnsEndpoints(options: DnsEndpointsOptions): EndpointSet {
  const scope = 'dns endpoints';
  const o = checkOptionsObject<DnsEndpointsOptions>(scope, options);
  if (typeof o.name !== 'string' || o.name.length === 0) throw new TypeError(`${scope}: option "name" must be a non-empty string (got ${describeValue(o.name)})`);
  const name = o.name;
  const record = optionalOneOf(scope, 'record', o.record, ['A', 'AAAA', 'A+AAAA', 'SRV'], DNS_ENDPOINTS_DEFAULTS.record);
  const protocol = optionalOneOf(scope, 'protocol', o.protocol, ['http', 'https'], DNS_ENDPOINTS_DEFAULTS.protocol);
  const port = optionalNumber(scope, 'port', o.port, protocol === 'https' ? 443 : 80, { min: 1, max: 65_535, integer: true });
  const minTtl = optionalNumber(scope, 'minTtl', o.minTtl, DNS_ENDPOINTS_DEFAULTS.minTtl, { min: 1 });
  const maxTtl = optionalNumber(scope, 'maxTtl', o.maxTtl, DNS_ENDPOINTS_DEFAULTS.maxTtl, { min: minTtl });
  const timeout = optionalNumber(scope, 'timeout', o.timeout, DNS_ENDPOINTS_DEFAULTS.timeout, { min: 1, integer: true });
  const clock = o.clock ?? systemClock;
  let resolver: DnsResolver;
  if (o.resolver !== undefined) {
    resolver = o.resolver;
  } else {
    const own = new Resolver({ timeout, tries: 2 });
    if (o.servers !== undefined) own.setServers([...o.servers]);
    resolver = own;
  }

  const events = new TypedEmitter<EndpointSetEvents>();
  let current: readonly Endpoint[] = Object.freeze([]);
  let timer: ClockTimer | undefined;
  let closed = false;
  let first: { error?: BalancerError } | undefined;
  const waiting: [() => void, (error: unknown) => void][] = [];

  const origin = (address: string, p: number): string => `${protocol}://${isIP(address) === 6 ? `[${address}]` : address}:${p}`;

  const addresses = async (host: string, type: DnsRecordType): Promise<{ address: string; ttl: number }[]> => {
    const out: { address: string; ttl: number }[] = [];
    const families = type === 'A+AAAA' ? [4, 6] : type === 'AAAA' ? [6] : [4];
    let lastError: unknown;
    for (const family of families) {
      try {
        out.push(...(family === 4 ? await resolver.resolve4(host, { ttl: true }) : await resolver.resolve6(host, { ttl: true })));
      } catch (error) {
        if (!isEmptyAnswer(error)) lastError = error;
      }
    }
    if (out.length === 0 && lastError !== undefined) throw lastError;
    return out;
  };

  const query = async (): Promise<Answer> => {
    if (record !== 'SRV') {
      const list = await addresses(name, record);
      const endpoints = list.map((a) => toEndpoint(origin(a.address, port), scope));
      return { endpoints, ttlMs: Math.min(...list.map((a) => a.ttl * 1000), maxTtl) };
    }
    let srv = await resolver.resolveSrv(name);
    // RFC 2782: only the lowest priority value is used while any of its targets exists.
    const best = Math.min(...srv.map((r) => r.priority));
    srv = srv.filter((r) => r.priority === best);
    const endpoints: Endpoint[] = [];
    let ttlMs = maxTtl;
    for (const target of srv) {
      const list = isIP(target.name) ? [{ address: target.name, ttl: maxTtl / 1000 }] : await addresses(target.name, 'A+AAAA');
      for (const a of list) {
        ttlMs = Math.min(ttlMs, a.ttl * 1000);
        // RFC 2782: weight 0 is "very small chance"; 1 keeps it pickable but rare next to typical weights.
        endpoints.push(toEndpoint({ url: origin(a.address, target.port), weight: Math.max(1, target.weight) }, scope));
      }
    }
    return { endpoints, ttlMs };
  };

  const settleFirst = (error?: BalancerError): void => {
    if (first !== undefined) return;
    first = error === undefined ? {} : { error };
    for (const [resolve, reject] of waiting.splice(0)) (error === undefined ? resolve() : reject(error));
  };

  const refresh = async (): Promise<void> => {
    let next = minTtl;
    try {
      let answer: Answer;
      try {
        answer = await query();
      } catch (error) {
        if (!isEmptyAnswer(error)) throw error;
        answer = { endpoints: [], ttlMs: minTtl };
      }
      if (closed) return;
      const unique = new Map(answer.endpoints.map((e) => [e.id, e]));
      const endpoints = Object.freeze([...unique.values()]);
      next = Math.min(maxTtl, Math.max(minTtl, answer.ttlMs));
      if (!sameEndpoints(current, endpoints)) {
        current = endpoints;
        events.emit('change', current);
      }
      settleFirst();
    } catch (cause) {
      if (closed) return;
      const error = new BalancerError('EDNS', `${scope}: ${record} query for ${name} failed: ${(cause as Error)?.message ?? String(cause)}`, { target: name, cause });
      settleFirst(error);
      events.emit('error', error);
    }
    if (!closed) timer = clock.setTimeout(() => void refresh(), next);
  };
  void refresh();

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    clock.clearTimeout(timer);
    resolver.cancel();
    settleFirst(new BalancerError('ECLOSED', `${scope}: closed before the first answer for ${name}`, { target: name }));
  };

  return {
    current: () => current,
    ready() {
      if (first !== undefined) return first.error === undefined ? Promise.resolve() : Promise.reject(first.error);
      return new Promise<void>((resolve, reject) => waiting.push([resolve, reject]));
    },
    on: (event, listener) => events.on(event, listener),
    close,
    [Symbol.asyncDispose]: close,
  };
}
