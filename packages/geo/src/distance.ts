/** Mean Earth radius in kilometres (IUGG). */
export const EARTH_RADIUS_KM = 6371.0088;

/** Light in optical fibre covers about 200,000 km/s (refractive index ≈ 1.47): 200 km per millisecond. */
export const FIBRE_KM_PER_MS = 200;

const RADIANS = Math.PI / 180;

/** Writes the unit vector of a point on the sphere into `out[offset..offset+2]`. */
export function writeUnitVector(lat: number, lon: number, out: Float64Array, offset: number): void {
  const phi = lat * RADIANS;
  const lambda = lon * RADIANS;
  const cosPhi = Math.cos(phi);
  out[offset] = cosPhi * Math.cos(lambda);
  out[offset + 1] = cosPhi * Math.sin(lambda);
  out[offset + 2] = Math.sin(phi);
}

/**
 * Great-circle distance in kilometres between two points given in degrees (haversine formula).
 *
 * @example distanceKm({ lat: 51.5, lon: -0.13 }, { lat: 40.71, lon: -74.01 }) // ≈ 5570
 */
export function distanceKm(a: { lat: number; lon: number }, b: { lat: number; lon: number }): number {
  const dPhi = (b.lat - a.lat) * RADIANS;
  const dLambda = (b.lon - a.lon) * RADIANS;
  const h = Math.sin(dPhi / 2) ** 2 + Math.cos(a.lat * RADIANS) * Math.cos(b.lat * RADIANS) * Math.sin(dLambda / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Round-trip time in milliseconds that a distance suggests: there and back through fibre, with
 * `routeFactor` for cables that do not follow great circles (measured paths run 1.5-2x longer).
 */
export function estimateRttMs(distanceKm: number, routeFactor: number): number {
  return (2 * distanceKm * routeFactor) / FIBRE_KM_PER_MS;
}
