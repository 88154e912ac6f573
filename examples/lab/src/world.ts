import { type LatLon, distanceKm, floorOneWayMs } from './geo-math.js';

/** A backend region: an origin and an edge gateway live there. */
export interface WorldRegion extends LatLon {
  name: string;
  label: string;
}

/** A client city with a public address that geolocates there. */
export interface City extends LatLon {
  name: string;
  /** A public IPv4 address that geoip-lite places in this city's country. */
  ip: string;
}

/** Default regions: AWS-like us-east (N. Virginia), eu-west (Dublin), ap-south (Mumbai). */
export const DEFAULT_REGIONS: readonly WorldRegion[] = [
  { name: 'us-east', label: 'N. Virginia', lat: 39.04, lon: -77.49 },
  { name: 'eu-west', label: 'Dublin', lat: 53.35, lon: -6.26 },
  { name: 'ap-south', label: 'Mumbai', lat: 19.08, lon: 72.88 },
];

/** Client cities; each address is one that geoip-lite's bundled data places in the right country. */
export const CITIES: readonly City[] = [
  { name: 'Singapore', lat: 1.35, lon: 103.82, ip: '118.189.0.1' },
  { name: 'Sydney', lat: -33.87, lon: 151.21, ip: '1.128.0.1' },
  { name: 'Tokyo', lat: 35.68, lon: 139.69, ip: '133.11.0.1' },
  { name: 'Frankfurt', lat: 50.11, lon: 8.68, ip: '217.0.0.1' },
  { name: 'London', lat: 51.51, lon: -0.13, ip: '86.128.0.1' },
  { name: 'Sao Paulo', lat: -23.55, lon: -46.63, ip: '189.0.0.1' },
  { name: 'Virginia', lat: 38.88, lon: -77.1, ip: '72.83.0.1' },
  { name: 'San Francisco', lat: 37.77, lon: -122.42, ip: '98.207.0.1' },
];

/** Continent of each default client city's country, for the routing rules. */
export const CONTINENT_RULES = { NA: 'us-east', SA: 'us-east', EU: 'eu-west', AF: 'eu-west', AS: 'ap-south', OC: 'ap-south' } as const;

/** The region nearest to a point. */
export function nearestRegion(point: LatLon, regions: readonly WorldRegion[]): WorldRegion {
  let best = regions[0]!;
  for (const region of regions) if (distanceKm(point, region) < distanceKm(point, best)) best = region;
  return best;
}

/** The injected one-way delay of a link: the physical floor times the route factor. */
export function linkDelayMs(a: LatLon, b: LatLon, routeFactor: number): number {
  return floorOneWayMs(a, b) * routeFactor;
}
