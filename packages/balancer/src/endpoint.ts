import { describeValue } from '@edgekit/core';

/** One instance of a service in one region: an origin the forwarder opens connections to. */
export interface Endpoint {
  /** Stable identity; state (load, ejections) follows the id across updates. Default: the origin. */
  readonly id: string;
  /** Origin of the instance, such as `http://10.0.3.7:8080` (no path). */
  readonly url: string;
  /** Relative share of traffic, > 0. Default 1. */
  readonly weight: number;
}

/** An endpoint as users write it: an origin string, or an object with optional `id` and `weight`. */
export type EndpointInput = string | { url: string; id?: string; weight?: number };

/** Normalizes and checks one endpoint; `where` names the option in error messages. */
export function toEndpoint(input: EndpointInput, where: string): Endpoint {
  const raw = typeof input === 'string' ? { url: input } : input;
  if (raw === null || typeof raw !== 'object' || typeof raw.url !== 'string') {
    throw new TypeError(`${where} must be an origin string or { url, id?, weight? } (got ${describeValue(input)})`);
  }
  let origin: string;
  try {
    const parsed = new URL(raw.url);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol');
    origin = parsed.origin;
  } catch {
    throw new TypeError(`${where}: "url" must be an http(s) origin (got ${describeValue(raw.url)})`);
  }
  const weight = raw.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new RangeError(`${where}: "weight" must be a finite number > 0 (got ${describeValue(raw.weight)})`);
  }
  if (raw.id !== undefined && (typeof raw.id !== 'string' || raw.id.length === 0)) {
    throw new TypeError(`${where}: "id" must be a non-empty string (got ${describeValue(raw.id)})`);
  }
  return Object.freeze({ id: raw.id ?? origin, url: origin, weight });
}

/** Normalizes a list of endpoints, rejecting duplicate ids. */
export function toEndpoints(list: readonly EndpointInput[], where: string): Endpoint[] {
  if (!Array.isArray(list)) throw new TypeError(`${where} must be an array of endpoints (got ${describeValue(list)})`);
  const seen = new Set<string>();
  return list.map((input, index) => {
    const endpoint = toEndpoint(input, `${where}[${index}]`);
    if (seen.has(endpoint.id)) throw new TypeError(`${where}[${index}]: duplicate endpoint id ${describeValue(endpoint.id)}`);
    seen.add(endpoint.id);
    return endpoint;
  });
}

/** True when both lists hold the same ids, urls and weights in any order. */
export function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  const byId = new Map(a.map((e) => [e.id, e]));
  return b.every((e) => {
    const other = byId.get(e.id);
    return other !== undefined && other.url === e.url && other.weight === e.weight;
  });
}
