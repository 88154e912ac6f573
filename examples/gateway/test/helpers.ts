import { waitFor as waitUntil } from '@edgekit/test-utils/node';
import { type Gateway, type GatewayConfigInput, type GatewayLogger, createGateway } from '../src/index.js';
import { type DemoOrigin, startDemoOrigin } from '../src/origin.js';

/** A gateway and its three loopback origins (us, eu, ap). */
export interface World {
  gateway: Gateway;
  origins: Record<'us' | 'eu' | 'ap', DemoOrigin>;
  url: string;
  logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Public addresses placed by the static resolver of {@link baseConfig}. */
export const CLIENTS = { london: '81.2.69.160', singapore: '1.0.0.1', virginia: '3.3.3.3' } as const;

export async function startOrigins(): Promise<Record<'us' | 'eu' | 'ap', DemoOrigin>> {
  const [us, eu, ap] = await Promise.all([startDemoOrigin({ region: 'us' }), startDemoOrigin({ region: 'eu' }), startDemoOrigin({ region: 'ap' })]);
  return { us: us!, eu: eu!, ap: ap! };
}

export function baseConfig(origins: Record<'us' | 'eu' | 'ap', DemoOrigin>, extra: Partial<GatewayConfigInput> = {}): GatewayConfigInput {
  return {
    edge: { location: 'test-edge', nodeId: 'node-1' },
    server: { host: '127.0.0.1', port: 0, shutdownDelay: 0, drainTimeout: 5_000, reloadDrainTimeout: 10_000 },
    regions: [
      { name: 'us', url: origins.us.url, location: { lat: 39.04, lon: -77.49 } },
      { name: 'eu', url: origins.eu.url, location: { lat: 53.35, lon: -6.26 } },
      { name: 'ap', url: origins.ap.url, location: { lat: 1.35, lon: 103.82 } },
    ],
    routing: { defaultRegion: 'us', rules: { continents: { EU: 'eu', AS: 'ap', NA: 'us' } } },
    geo: {
      trustedProxies: ['loopback'],
      resolver: {
        static: [
          { cidr: '81.2.69.0/24', country: 'GB' },
          { cidr: '1.0.0.0/24', country: 'SG' },
          { cidr: '3.3.3.0/24', country: 'US' },
        ],
      },
    },
    health: { interval: 200, timeout: 5_000, jitter: 0, initialJitter: 0, healthyThreshold: 1, unhealthyThreshold: 1 },
    breakers: { failureThreshold: 3, resetTimeout: 60_000 },
    proxy: { connectTimeout: 1_000, headersTimeout: 5_000, retryBudget: false },
    cache: { routes: { 'GET /api/products/:id': { ttl: 60_000, tags: ['product:{id}', 'products'] } } },
    telemetry: { defaultMetrics: false },
    status: { interval: 200 },
    ...extra,
  };
}

export async function startWorld(extra: Partial<GatewayConfigInput> = {}, options: { configFile?: string; env?: NodeJS.ProcessEnv } = {}): Promise<World> {
  const origins = await startOrigins();
  const logs: World['logs'] = [];
  const logger: GatewayLogger = (level, msg, fields) => logs.push({ level, msg, fields });
  const gateway = await createGateway(baseConfig(origins, extra), { logger, env: options.env ?? {}, configFile: options.configFile, watchDebounce: 50 });
  const url = await gateway.listen();
  await waitFor(async () => (await fetch(`${url}/ready`)).status === 200);
  return {
    gateway,
    origins,
    url,
    logs,
    async close() {
      await gateway.close();
      await Promise.all(Object.values(origins).map((origin) => origin.close()));
    },
  };
}

/** `waitFor` of `@edgekit/test-utils` with a 5 s default, where a `check` that throws has not held yet. */
export function waitFor(check: () => boolean | Promise<boolean>, timeout = 5_000, what = 'condition'): Promise<void> {
  return waitUntil(
    async () => {
      try {
        return await check();
      } catch {
        return false;
      }
    },
    timeout,
    what,
  );
}

export function from(ip: string, headers: Record<string, string> = {}): Record<string, string> {
  return { 'x-forwarded-for': ip, ...headers };
}
