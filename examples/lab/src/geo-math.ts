/** A point on the globe in degrees. */
export interface LatLon {
  lat: number;
  lon: number;
}

const EARTH_RADIUS_KM = 6371.0088;

/** Light in fibre covers about 200,000 km per second: 200 km per millisecond. */
export const FIBRE_KM_PER_MS = 200;

/** Great-circle distance in kilometres (haversine). */
export function distanceKm(a: LatLon, b: LatLon): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The physical floor: one-way time for light in fibre along the great circle, in ms. */
export function floorOneWayMs(a: LatLon, b: LatLon): number {
  return distanceKm(a, b) / FIBRE_KM_PER_MS;
}
