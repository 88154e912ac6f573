import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import type { City } from './world.js';

/** One measured request. */
export interface Sample {
  city: string;
  path: string;
  /** Wall time from sending to the end of the body, in ms. */
  ms: number;
  status: number;
  /** `x-served-by` of the answer, when any. */
  servedBy: string | undefined;
  cacheStatus: string | undefined;
  /** `performance.now()` at send time. */
  startedAt: number;
}

/** A client in a city: keep-alive connections over its link to one gateway. */
export interface CityClient {
  readonly city: City;
  get(path: string, timeoutMs?: number): Promise<Sample>;
  close(): Promise<void>;
}

/** Connects a city to a gateway through `linkUrl`; requests carry the city's address in `X-Forwarded-For`. */
export function cityClient(city: City, linkUrl: string): CityClient {
  const pool = new Pool(linkUrl, { connections: 64, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });
  return {
    city,
    async get(path, timeoutMs = 30_000) {
      const startedAt = performance.now();
      try {
        const res = await pool.request({
          method: 'GET',
          path,
          headers: { 'x-forwarded-for': city.ip, host: 'shop.example' },
          headersTimeout: timeoutMs,
          bodyTimeout: timeoutMs,
        });
        await res.body.dump({ limit: 1 << 20 });
        return {
          city: city.name,
          path,
          ms: performance.now() - startedAt,
          status: res.statusCode,
          servedBy: header(res.headers['x-served-by']),
          cacheStatus: header(res.headers['cache-status']),
          startedAt,
        };
      } catch {
        return { city: city.name, path, ms: performance.now() - startedAt, status: 0, servedBy: undefined, cacheStatus: undefined, startedAt };
      }
    },
    close: () => pool.close(),
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Sends `count` requests from `client`, `concurrency` at a time; `path(i)` names each one. */
export async function load(client: CityClient, count: number, concurrency: number, path: (i: number) => string, onDone?: () => void): Promise<Sample[]> {
  const samples: Sample[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      samples.push(await client.get(path(i)));
      onDone?.();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return samples;
}
