// A gateway node for the hit benchmark: node:http + cache.handler(forwarder.forward) with the
// memory store, @edgekit/proxy forwarding misses to the origin. Usage: gateway.child.ts <origin base URL>.
// Prints "ready <port>".
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createForwarder } from '@edgekit/proxy';
import { createCache } from '../src/index.js';

const originBase = process.argv[2];
if (!originBase) throw new Error('usage: gateway.child.ts <origin base URL>');
const forwarder = createForwarder({ regions: [{ name: 'local', url: originBase, location: { lat: 0, lon: 0 } }] });
const cache = createCache({ routes: { 'GET /api/*': { ttl: 600_000 } } });
const server = createServer({ keepAliveTimeout: 60_000 }, cache.handler(forwarder.forward));
server.listen(0, '127.0.0.1', () => {
  console.log(`ready ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => {
  server.close();
  void cache.close().then(() => forwarder.close()).then(() => process.exit(0));
});
