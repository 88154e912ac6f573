// Routes remembered per region (successes) and overall (failures); the oldest are forgotten first.
const MAX_ROUTES = 256;
const MAX_FAILING_ROUTES = 1024;

interface RouteFailure {
  at: number;
  /** Regions where the route failed within the window. */
  regions: Set<string>;
}

/** A route's latest outcome in one region. */
interface Outcome {
  at: number;
  ok: boolean;
}

/**
 * Tells a route's failures from a region's. An upstream failure (a 5xx, a reset, a timeout after the
 * request was sent) counts against the region only when failures are spread across routes: at least
 * two routes of the region have failed as their latest outcome within `window` milliseconds, and no
 * fewer than the routes whose latest outcome is a success; or when the region has no recent success
 * at all (a single-route API), its health checks do not vouch for it, and the request has not already
 * failed the same way in another region.
 * A failure that is the route's does not count against the region's breaker, and once the route has
 * failed that way in two regions it is not retried in a third. Connection failures are always the
 * region's. Keys are bounded, so a client inventing paths cannot grow memory.
 */
export class RouteFailures {
  readonly #window: number;
  /** Per region: route → its latest outcome, least recently touched first. */
  readonly #outcomes = new Map<string, Map<string, Outcome>>();
  readonly #failures = new Map<string, RouteFailure>();

  constructor(window: number) {
    this.#window = window;
  }

  #routes(region: string): Map<string, Outcome> {
    let routes = this.#outcomes.get(region);
    if (routes === undefined) {
      routes = new Map();
      this.#outcomes.set(region, routes);
    }
    return routes;
  }

  #touch(routes: Map<string, Outcome>, route: string, now: number, ok: boolean): void {
    const outcome = routes.get(route);
    if (outcome !== undefined) {
      // Touching the map on every success would cost a delete and an insert per request.
      if (ok && outcome.ok && now - outcome.at < this.#window / 8) return;
      routes.delete(route);
      outcome.at = now;
      outcome.ok = ok;
      routes.set(route, outcome);
      return;
    }
    routes.set(route, { at: now, ok });
    if (routes.size > MAX_ROUTES) routes.delete(routes.keys().next().value!);
  }

  /** Records a success of `route` in `region`. */
  success(region: string, route: string, now: number): void {
    this.#touch(this.#routes(region), route, now, true);
  }

  /**
   * Records an upstream failure of `route` in `region` and returns whether it counts against the
   * region. `sameRequestFailed`: an earlier attempt of this request already failed as the route's;
   * `regionAlive`: the region's health checks pass (evidence that it serves, when no route says so).
   */
  failure(region: string, route: string, now: number, sameRequestFailed: boolean, regionAlive = false): boolean {
    const routes = this.#routes(region);
    this.#touch(routes, route, now, false);
    let failing = 0;
    let succeeding = 0;
    // Oldest first: expired entries are dropped on the way.
    for (const [key, outcome] of routes) {
      if (now - outcome.at >= this.#window) routes.delete(key);
      else if (outcome.ok) succeeding++;
      else failing++;
    }
    const regionWide = failing >= 2 ? failing >= succeeding : succeeding === 0 && !sameRequestFailed && !regionAlive;
    if (regionWide) return true;
    let failure = this.#failures.get(route);
    if (failure === undefined || now - failure.at >= this.#window) {
      failure = { at: now, regions: new Set() };
      if (this.#failures.size >= MAX_FAILING_ROUTES) this.#failures.delete(this.#failures.keys().next().value!);
    } else {
      this.#failures.delete(route);
    }
    failure.at = now;
    failure.regions.add(region);
    this.#failures.set(route, failure);
    return false;
  }

  /** Whether `route` failed as the route's in a region other than `region` within the window. */
  failingElsewhere(route: string, region: string, now: number): boolean {
    const failure = this.#failures.get(route);
    if (failure === undefined || now - failure.at >= this.#window) return false;
    return failure.regions.size > 1 || !failure.regions.has(region);
  }
}
