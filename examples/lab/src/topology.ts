import { type LatencyProxy, startLatencyProxy } from './latency-proxy.js';
import { type Origin, startOrigin } from './origin.js';
import { type City, type WorldRegion, linkDelayMs } from './world.js';

/** A link between two points of the world; same-metro links get a small fixed delay. */
const SAME_METRO_MS = 0.5;

/** The regional origins and the links that reach them from every gateway location. */
export interface World {
  readonly regions: readonly WorldRegion[];
  readonly routeFactor: number;
  readonly origins: ReadonlyMap<string, Origin>;
  /** `links.get(from).get(to)`: URL of the link from a gateway in `from` to the origin in `to`. */
  readonly links: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** A link from a city to the gateway listening on `gatewayPort` in `location` (created once, then reused). */
  cityLink(city: City, location: WorldRegion, gatewayPort: number): Promise<LatencyProxy>;
  /** A link from a gateway location to an arbitrary TCP service located in `at` (Redis, say). */
  serviceLink(from: WorldRegion, at: WorldRegion, target: { host: string; port: number }, name: string): Promise<LatencyProxy>;
  close(): Promise<void>;
}

/** Starts an origin per region and a latency-injecting link from every region to every origin. */
export async function startWorld(regions: readonly WorldRegion[], routeFactor: number): Promise<World> {
  const proxies: LatencyProxy[] = [];
  const origins = new Map<string, Origin>();
  for (const region of regions) origins.set(region.name, await startOrigin(region.name));
  const oneWay = (a: WorldRegion | City, b: WorldRegion | City): number =>
    a.lat === b.lat && a.lon === b.lon ? SAME_METRO_MS : Math.max(SAME_METRO_MS, linkDelayMs(a, b, routeFactor));

  const links = new Map<string, Map<string, string>>();
  for (const from of regions) {
    const row = new Map<string, string>();
    for (const to of regions) {
      const proxy = await startLatencyProxy({ name: `${from.name}->${to.name}`, target: { host: '127.0.0.1', port: origins.get(to.name)!.port }, oneWayMs: oneWay(from, to) });
      proxies.push(proxy);
      row.set(to.name, proxy.url);
    }
    links.set(from.name, row);
  }

  const cityLinks = new Map<string, LatencyProxy>();
  const world: World = {
    regions,
    routeFactor,
    origins,
    links,
    async cityLink(city, location, gatewayPort) {
      const key = `${city.name}->${location.name}:${gatewayPort}`;
      const existing = cityLinks.get(key);
      if (existing) return existing;
      const proxy = await startLatencyProxy({ name: key, target: { host: '127.0.0.1', port: gatewayPort }, oneWayMs: oneWay(city, location) });
      proxies.push(proxy);
      cityLinks.set(key, proxy);
      return proxy;
    },
    async serviceLink(from, at, target, name) {
      const proxy = await startLatencyProxy({ name, target, oneWayMs: oneWay(from, at) });
      proxies.push(proxy);
      return proxy;
    },
    async close() {
      await Promise.all(proxies.map((p) => p.close()));
      await Promise.all([...origins.values()].map((o) => o.close()));
    },
  };
  return world;
}
