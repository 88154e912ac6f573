import { type Server, createServer } from 'node:http';
import { type Socket, connect, createServer as createTcpServer } from 'node:net';
import { createForwarder } from '@edgekit/proxy';
import { markdownTable } from '@edgekit/test-utils/node';
import { percentile, ms } from '../stats.js';

/** How the bad pod misbehaves. */
export type BadPodKind = 'failing' | 'slow';

export interface BadPodRow {
  /** `round-robin Service` (one region URL, kube-proxy style), `P2C + outlier ejection` or `peak-EWMA + outlier ejection` (endpoints). */
  shape: string;
  badPod: BadPodKind;
  requests: number;
  errors: number;
  errorRate: number;
  p50: number;
  p99: number;
  /** Requests the bad pod received. */
  badPodHits: number;
}

export interface BadPodOptions {
  requests: number;
  concurrency: number;
  /** How long the slow pod takes per answer. */
  slowMs: number;
  /** How long a healthy pod takes per answer. */
  podMs: number;
}

export const BAD_POD_DEFAULTS: BadPodOptions = Object.freeze({ requests: 3_000, concurrency: 16, slowMs: 250, podMs: 2 });

interface Pod {
  url: string;
  hits: number;
  server: Server;
}

async function startPod(behaviour: () => { status: number; delayMs: number }): Promise<Pod> {
  const pod: Pod = { url: '', hits: 0, server: undefined as unknown as Server };
  pod.server = createServer((req, res) => {
    req.resume();
    pod.hits++;
    const { status, delayMs } = behaviour();
    setTimeout(() => res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'bad pod'), delayMs);
  });
  await new Promise<void>((resolve) => pod.server.listen(0, '127.0.0.1', resolve));
  pod.url = `http://127.0.0.1:${(pod.server.address() as { port: number }).port}`;
  return pod;
}

/** A region URL in front of the pods, as a Kubernetes Service is: each TCP connection goes to the next pod in turn (kube-proxy), no ejection. */
async function startRoundRobinService(pods: readonly Pod[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((client) => {
    const target = new URL(pods[next++ % pods.length]!.url);
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

async function measure(forwarder: ReturnType<typeof createForwarder>, options: BadPodOptions): Promise<{ ms: number[]; errors: number }> {
  const front = createServer(forwarder.handler);
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(front.address() as { port: number }).port}`;
  const times: number[] = [];
  let errors = 0;
  let sent = 0;
  try {
    await Promise.all(Array.from({ length: options.concurrency }, async () => {
      while (sent < options.requests) {
        sent++;
        const started = performance.now();
        try {
          const reply = await fetch(`${url}/api/items/${sent}`);
          await reply.arrayBuffer();
          if (reply.status !== 200) errors++;
        } catch {
          errors++;
        }
        times.push(performance.now() - started);
      }
    }));
  } finally {
    front.closeAllConnections();
    await new Promise<void>((resolve) => front.close(() => resolve()));
  }
  return { ms: times, errors };
}

const SHAPES = ['round-robin Service', 'P2C + outlier ejection', 'peak-EWMA + outlier ejection'] as const;

/**
 * Scenario 9, "one bad pod": three pods in a region, one failing (503 at once) or slow. The same
 * load goes through today's shape (the region is one URL, a round-robin Service in front of the
 * pods) and through endpoints with power-of-two-choices least-request (the default) or peak-EWMA,
 * both with outlier ejection (Envoy's defaults: 5 consecutive 5xx, 30 s ejection, at most 50 %
 * ejected). Same forwarder settings otherwise, retries included.
 */
export async function runBadPodScenario(options: Partial<BadPodOptions> = {}): Promise<BadPodRow[]> {
  const o = { ...BAD_POD_DEFAULTS, ...options };
  const rows: BadPodRow[] = [];
  for (const badPod of ['failing', 'slow'] as const) {
    for (const shape of SHAPES) {
      const healthy = () => ({ status: 200, delayMs: o.podMs });
      const bad = badPod === 'failing' ? () => ({ status: 503, delayMs: o.podMs }) : () => ({ status: 200, delayMs: o.slowMs });
      const pods = [await startPod(healthy), await startPod(bad), await startPod(healthy)];
      const service = shape === 'round-robin Service' ? await startRoundRobinService(pods) : undefined;
      const location = { lat: 50.11, lon: 8.68 };
      const region = service === undefined
        ? { name: 'eu', url: 'http://eu.internal', location, endpoints: pods.map((p) => p.url), ...(shape === 'peak-EWMA + outlier ejection' && { balancer: 'peak-ewma' as const }) }
        : { name: 'eu', url: service.url, location };
      const forwarder = createForwarder({ regions: [region], connections: 32 });
      try {
        const { ms: times, errors } = await measure(forwarder, o);
        rows.push({ shape, badPod, requests: times.length, errors, errorRate: errors / times.length, p50: percentile(times, 50), p99: percentile(times, 99), badPodHits: pods[1]!.hits });
      } finally {
        await forwarder.close();
        await service?.close();
        for (const pod of pods) {
          pod.server.closeAllConnections();
          await new Promise<void>((resolve) => pod.server.close(() => resolve()));
        }
      }
    }
  }
  return rows;
}

/** The report section of scenario 9. */
export function badPodSection(rows: readonly BadPodRow[], options: Partial<BadPodOptions> = {}): string {
  const o = { ...BAD_POD_DEFAULTS, ...options };
  return (
    `## 9. One bad pod\n\n` +
    `Three pods in one region; one answers 503 (failing) or takes ${o.slowMs} ms (slow), the others ${o.podMs} ms. ${o.requests} requests, ${o.concurrency} at a time, through a region URL behind a round-robin Service (today's shape) and through the region's endpoints with P2C least-request (the default) or peak-EWMA, both with outlier ejection.\n\n` +
    markdownTable(
      ['Bad pod', 'Shape', 'Requests', 'Errors', 'Error rate', 'p50 ms', 'p99 ms', 'Bad pod hits'],
      rows.map((r) => [r.badPod, r.shape, r.requests, r.errors, `${(r.errorRate * 100).toFixed(2)}%`, ms(r.p50), ms(r.p99), r.badPodHits]),
    )
  );
}
