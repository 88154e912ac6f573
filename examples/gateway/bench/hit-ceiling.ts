/**
 * The ceiling of any node:http gateway for the cache-hit benchmark: a bare node:http server answering
 * the bytes a gateway hit answers (same status line, header fields, body), head and body in one write,
 * with no routing, cache, telemetry or lifecycle. `hit-ceiling.ts <bodyBytes>`; prints `READY <port>`.
 */
import { createServer } from 'node:http';
import { listen } from '@edgekit/test-utils/node';

const body = Buffer.from(process.argv[2] ?? '', 'base64');
const text = body.toString('latin1');
const headers = [
  'content-type', 'application/json',
  'cache-control', 'public, max-age=600',
  'date', new Date().toUTCString(),
  'via', '1.1 edgekit',
  'x-served-by', 'us',
  'content-length', String(body.length),
  'age', '0',
  'cache-status', 'edgekit; hit; ttl=599',
];
const server = createServer({ keepAliveTimeout: 65_000 }, (_req, res) => {
  res.sendDate = false;
  res.writeHead(200, headers);
  res.write(text, 'latin1');
  process.nextTick(() => res.end());
});
console.log(`READY ${await listen(server)}`);
process.on('SIGTERM', () => process.exit(0));
