import http from 'node:http';
import { type Forwarder, createForwarder } from '@edgekit/proxy';
import { afterEach, describe, expect, it } from 'vitest';
import { type Upstream, startFront, startUpstream } from './helpers.js';

// 1 GiB by default; EDGEKIT_PROXY_STREAM_MB makes it smaller on a slow machine. The gating below
// proves the absence of buffering at any size; the RSS bound shows it at scale.
const UPLOAD_MB = Number(process.env.EDGEKIT_PROXY_STREAM_MB ?? 1024);
const CHUNK = Buffer.alloc(1 << 20, 0x61);

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!();
});

async function setup(upstream: Upstream): Promise<{ url: string; forwarder: Forwarder }> {
  cleanup.push(() => upstream.close());
  const forwarder = createForwarder({ regions: [upstream.region()], bodyTimeout: 60_000, headersTimeout: 120_000 });
  const front = await startFront(forwarder);
  cleanup.push(async () => {
    await front.close();
    await forwarder.close();
  });
  return { url: front.url, forwarder };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Sends `UPLOAD_MB` MiB to `url`, sending nothing after the first MiB until `firstBytes` resolves
 * (the upstream has seen bytes): a proxy that buffered the body before forwarding would wait
 * forever. Resolves with the answer and the peak RSS growth over the upload, in MiB.
 */
async function measuredUpload(url: string, firstBytes: Promise<void>): Promise<{ status: number; body: string; growthMb: number }> {
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const total = UPLOAD_MB * CHUNK.length;
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${url}/upload`, { method: 'POST', agent: false, headers: { 'content-length': total, 'content-type': 'application/octet-stream' } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      let sent = 0;
      let gated = false;
      const pump = (): void => {
        while (sent < UPLOAD_MB) {
          if (sent === 1 && !gated) {
            gated = true;
            firstBytes.then(pump, reject);
            return;
          }
          sent++;
          const more = req.write(CHUNK);
          if (sent === UPLOAD_MB) {
            req.end();
            return;
          }
          if (!more) {
            req.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    return { ...reply, growthMb: (peak - baseline) / (1 << 20) };
  } finally {
    clearInterval(sampler);
  }
}

/** An upstream that counts the bytes of each upload and resolves `firstBytes` when the first arrive. */
async function countingUpstream(): Promise<{ upstream: Upstream; next(): Promise<void> }> {
  let first = deferred();
  let bytes = 0;
  const upstream = await startUpstream('eu', {
    kind: 'custom',
    handle: (req, res) => {
      bytes = 0;
      req.on('data', (chunk: Buffer) => {
        if (bytes === 0) first.resolve();
        bytes += chunk.length;
      });
      req.on('end', () => res.end(JSON.stringify({ bytes })));
    },
  });
  return {
    upstream,
    next() {
      first = deferred();
      return first.promise;
    },
  };
}

/** The floor Node itself sets: the same upload through a plain `req.pipe(http.request())` relay. */
async function startPlainPipe(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const upstreamReq = http.request(`${target}${req.url}`, { method: req.method, headers: req.headers, agent: false }, (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    });
    req.pipe(upstreamReq);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('streaming', () => {
  it(`streams a ${UPLOAD_MB} MiB upload in constant memory, the upstream reading before the client finished`, { timeout: 300_000 }, async () => {
    const { upstream, next } = await countingUpstream();
    const { url } = await setup(upstream);
    const total = UPLOAD_MB * CHUNK.length;

    // The same upload through a plain pipe first: what sockets, stream buffers and allocator slack
    // cost on this Node version (Node 24 keeps about 10 MiB more resident than Node 22 here).
    const pipe = await startPlainPipe(upstream.region().url);
    cleanup.push(() => pipe.close());
    const plain = await measuredUpload(pipe.url, next());
    expect(JSON.parse(plain.body).bytes).toBe(total);

    const proxied = await measuredUpload(url, next());
    expect(proxied.status).toBe(200);
    expect(JSON.parse(proxied.body).bytes).toBe(total);
    // Buffering any sizeable part of the body would add hundreds of MiB; the proxy may cost a few
    // tens of MiB more than the bare pipe (undici's socket and its own buffers), whatever the size.
    expect(proxied.growthMb, `proxy ${proxied.growthMb.toFixed(1)} MiB vs plain pipe ${plain.growthMb.toFixed(1)} MiB`).toBeLessThan(Math.max(plain.growthMb, 0) + 64);
  });

  it('streams a large download with backpressure, the client reading before the upstream finished', { timeout: 120_000 }, async () => {
    const chunks = 256;
    const clientGotFirst = deferred();
    const upstream = await startUpstream('eu', {
      kind: 'custom',
      handle: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': chunks * CHUNK.length });
        let sent = 0;
        const pump = (): void => {
          while (sent < chunks) {
            if (sent === 1) {
              sent++;
              // The second MiB waits until the client has the first: the proxy must not buffer the answer.
              clientGotFirst.promise.then(() => {
                res.write(CHUNK);
                pump();
              });
              return;
            }
            sent++;
            if (!res.write(CHUNK)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
      },
    });
    const { url } = await setup(upstream);
    const received = await new Promise<number>((resolve, reject) => {
      http
        .get(`${url}/download`, { agent: false }, (res) => {
          let bytes = 0;
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            if (bytes >= CHUNK.length) clientGotFirst.resolve();
          });
          res.on('end', () => resolve(bytes));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(received).toBe(chunks * CHUNK.length);
  });

  it('streams a forward() body with backpressure to a slow consumer', { timeout: 60_000 }, async () => {
    const upstream = await startUpstream('eu', {
      kind: 'custom',
      handle: (_req, res) => {
        let sent = 0;
        const pump = (): void => {
          while (sent < 64) {
            sent++;
            if (!res.write(CHUNK)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        pump();
      },
    });
    cleanup.push(() => upstream.close());
    const forwarder = createForwarder({ regions: [upstream.region()] });
    cleanup.push(() => forwarder.close());
    const front = await startFront(async (req, res) => {
      const response = await forwarder.forward(req);
      let bytes = 0;
      for await (const chunk of response.body) {
        bytes += (chunk as Buffer).length;
        // A slow consumer: the upstream must be paused rather than buffered.
        if (bytes % (8 << 20) < (chunk as Buffer).length) await new Promise((r) => setImmediate(r));
      }
      res.end(String(bytes));
    });
    cleanup.push(() => front.close());
    const body = await new Promise<string>((resolve, reject) => {
      http.get(`${front.url}/x`, { agent: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c));
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(Number(body)).toBe(64 * CHUNK.length);
  });
});
