import { EdgeClientError } from './errors.js';

/** A point on Earth in decimal degrees. */
export interface Coordinates {
  lat: number;
  lon: number;
}

/** One place a client can send its requests to. */
export interface Edge {
  /** Unique id, stable across maps (latency samples are kept by it). */
  id: string;
  /** Region the edge belongs to; a pinned client never leaves its region. */
  region: string;
  /** Base URL; request paths are resolved against it. */
  url: string;
  /** Where the edge is, for the cold start before any probe has answered. */
  location?: Coordinates;
  /** Relative capacity: a latency is divided by it when edges are ranked; `0` drains the edge. Default `1`. */
  weight?: number;
}

/** The list of edges a gateway publishes, signed; the one schema both sides use. */
export interface EdgeMap {
  /** Increases with every change; a map older than the one in use is refused. */
  version: number;
  /** Unix milliseconds the map was issued at. */
  issuedAt: number;
  /** Unix milliseconds after which the map is stale and refused. */
  expiresAt: number;
  edges: Edge[];
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** The `EBADMAP` error for an edge map that is malformed or could not be fetched. */
export function badMap(what: string, cause?: unknown): EdgeClientError {
  return new EdgeClientError('EBADMAP', `edge map: ${what}`, { cause });
}

/** Checks a point; `where` names it in errors. */
export function checkCoordinates(value: unknown, where: string): Coordinates {
  const { lat, lon } = (value ?? {}) as Partial<Coordinates>;
  if (!isFiniteNumber(lat) || !isFiniteNumber(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180) throw badMap(`${where} must be { lat, lon } in degrees`);
  return { lat, lon };
}

/** Checks one edge and returns a copy with only known fields; `where` names it in errors. */
export function checkEdge(value: unknown, where: string): Edge {
  const e = value as Partial<Edge> | null;
  if (typeof e !== 'object' || e === null) throw badMap(`${where} must be an object`);
  for (const key of ['id', 'region', 'url'] as const) {
    if (typeof e[key] !== 'string' || !e[key]) throw badMap(`${where}.${key} must be a non-empty string`);
  }
  if (!/^https?:\/\//i.test(e.url!)) throw badMap(`${where}.url must be an http(s) URL`);
  const edge: Edge = { id: e.id!, region: e.region!, url: e.url!.replace(/\/+$/, '') };
  if (e.location !== undefined) edge.location = checkCoordinates(e.location, `${where}.location`);
  if (e.weight !== undefined) {
    if (!isFiniteNumber(e.weight) || e.weight < 0) throw badMap(`${where}.weight must be a number >= 0`);
    edge.weight = e.weight;
  }
  return edge;
}

/** Checks a list of edges: each edge valid, ids unique. */
export function checkEdges(value: unknown, where: string): Edge[] {
  if (!Array.isArray(value) || value.length === 0) throw badMap(`${where} must be a non-empty array`);
  const seen = new Set<string>();
  return value.map((item, i) => {
    const edge = checkEdge(item, `${where}[${i}]`);
    if (seen.has(edge.id)) throw badMap(`${where}[${i}].id is not unique`);
    seen.add(edge.id);
    return edge;
  });
}

/** Checks the shape of an {@link EdgeMap}; throws `EBADMAP` naming the field at fault. */
export function checkEdgeMap(value: unknown): EdgeMap {
  const m = value as Partial<EdgeMap> | null;
  if (typeof m !== 'object' || m === null) throw badMap('not an object');
  for (const key of ['version', 'issuedAt', 'expiresAt'] as const) {
    if (!isFiniteNumber(m[key]) || m[key]! < 0) throw badMap(`"${key}" must be a number >= 0`);
  }
  if (m.expiresAt! <= m.issuedAt!) throw badMap('"expiresAt" must be after "issuedAt"');
  return { version: m.version!, issuedAt: m.issuedAt!, expiresAt: m.expiresAt!, edges: checkEdges(m.edges, 'edges') };
}
