// The ceiling of the gateway path: node:http answering the same bytes and headers as a cache hit,
// with no cache logic at all. Prints "ready <port>".
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const size = Number(process.argv[2] ?? 822);
const body = Buffer.alloc(size, 'x');
// Sent as a latin1 string so node:http writes headers and body at once, as the cache's hit path does.
const text = body.toString('latin1');
const server = createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'public, max-age=600', age: '1', 'cache-status': 'edgekit; hit' });
  res.end(text, 'latin1');
});
server.listen(0, '127.0.0.1', () => {
  console.log(`ready ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
