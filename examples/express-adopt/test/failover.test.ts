import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { type TsChild, closeServer, listen, spawnTs } from '@edgekit/test-utils';
import { afterEach, describe, expect, it } from 'vitest';

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url));

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

/** A region of the API: a real server on loopback that counts what it serves. */
async function region(name: string): Promise<{ url: string; served: string[]; kill(): Promise<void> }> {
  const served: string[] = [];
  const server = http.createServer((req, res) => {
    served.push(`${req.method} ${req.url}`);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ region: name }));
  });
  const port = await listen(server);
  cleanup.push(() => closeServer(server));
  return { url: `http://127.0.0.1:${port}`, served, kill: () => closeServer(server) };
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; servedBy: string | null; body: any }> {
  const response = await fetch(url, init);
  return { status: response.status, servedBy: response.headers.get('x-served-by'), body: await response.json() };
}

describe('express-adopt example', () => {
  it('serves its own routes and forwards /api to the EU region, failing over to the US region', async () => {
    const eu = await region('eu-central');
    const us = await region('us-east');
    const child: TsChild = spawnTs(SERVER, [], { EU_URL: eu.url, US_URL: us.url, PORT: '0' });
    cleanup.push(() => child.stop());
    const line = await child.waitForLine((l) => l.startsWith('listening on '), 30_000);
    const base = /listening on (http:\/\/[^\s]+)/.exec(line)![1]!;

    expect((await get(`${base}/healthz`)).body).toEqual({ ok: true });
    expect(await get(`${base}/api/orders/1`)).toEqual({ status: 200, servedBy: 'eu-central', body: { region: 'eu-central' } });

    await eu.kill();
    expect(await get(`${base}/api/orders/2`)).toEqual({ status: 200, servedBy: 'us-east', body: { region: 'us-east' } });
    expect(eu.served).toEqual(['GET /orders/1']);
    expect(us.served).toEqual(['GET /orders/2']);

    // The service's own body-parsed routes are untouched by the adoption.
    expect((await get(`${base}/echo`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } })).body).toEqual({ a: 1 });

    await us.kill();
    const down = await fetch(`${base}/api/orders/3`);
    expect(down.status).toBe(502);
    expect(down.headers.get('content-type')).toBe('application/problem+json');
    expect(await down.json()).toMatchObject({ status: 502, regionsTried: ['eu-central', 'us-east'] });
  });
});
