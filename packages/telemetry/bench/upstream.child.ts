/** A minimal upstream for the benchmark: answers every request with a small JSON body. */
import http from 'node:http';

const body = JSON.stringify({ ok: true, region: 'eu-west' });
const server = http.createServer((req, res) => {
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`port ${typeof address === 'object' && address !== null ? address.port : 0}`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
