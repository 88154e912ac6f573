/**
 * Starts the service. With EU_URL and US_URL set it forwards `/api` there; without them it starts
 * two small demo upstreams on loopback first, so `pnpm start` works on its own.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';

async function listen(server: http.Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function demoUpstream(region: string): Promise<string> {
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ region, path: req.url }));
  });
  return `http://127.0.0.1:${await listen(server)}`;
}

const eu = process.env.EU_URL ?? (await demoUpstream('eu-central'));
const us = process.env.US_URL ?? (await demoUpstream('us-east'));
const { app, close } = createApp({ eu, us });
const server = http.createServer(app);
const port = await listen(server, Number(process.env.PORT ?? 0));
console.log(`listening on http://127.0.0.1:${port} (api: eu-central ${eu}, us-east ${us})`);

const stop = (): void => {
  server.close();
  void close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
