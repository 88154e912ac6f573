import type { GeoLocator } from '@edgekit/geo';
import type { Progress } from '../progress.js';
import type { World } from '../topology.js';
import type { City, WorldRegion } from '../world.js';

/** What every scenario gets. */
export interface LabContext {
  world: World;
  cities: readonly City[];
  locator: GeoLocator;
  progress: Progress;
  /** Upstream response-header timeout of the gateways (the article's 5 s, scaled down). */
  upstreamTimeout: number;
  /** Smaller samples for a quick run. */
  quick: boolean;
}

/** A region by name. */
export function region(ctx: LabContext, name: string): WorldRegion {
  const found = ctx.world.regions.find((r) => r.name === name);
  if (!found) throw new Error(`unknown region ${name}`);
  return found;
}
