import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

/** Options for {@link startLatencyProxy}. */
export interface LatencyProxyOptions {
  /** Where connections are forwarded. */
  target: { host: string; port: number };
  /** One-way delay in milliseconds, applied to every byte in both directions. */
  oneWayMs: number;
  /** A name for progress output and errors. */
  name: string;
}

/** A TCP proxy on 127.0.0.1 that delays traffic like a long-haul link. */
export interface LatencyProxy {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  /** Current one-way delay in ms. */
  oneWayMs: number;
  /** Drops every open connection and refuses new ones until `restore()` (a cut link). */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/**
 * Delays each chunk by the one-way delay in its direction. A new connection also pays the TCP
 * handshake: the client's first bytes reach the target no earlier than three one-way delays after
 * the connection opened (SYN, SYN-ACK, then the data), as on a real link.
 */
export async function startLatencyProxy(options: LatencyProxyOptions): Promise<LatencyProxy> {
  const sockets = new Set<Socket>();
  let cut = false;

  const pipeDelayed = (from: Socket, to: Socket, earliest: () => number): void => {
    let lastDelivery = 0;
    let pendingEnd = false;
    let inFlight = 0;
    from.on('data', (chunk: Buffer) => {
      // Deliveries never reorder: each is scheduled no earlier than the previous one.
      const at = Math.max(Date.now() + proxy.oneWayMs, earliest(), lastDelivery);
      lastDelivery = at;
      inFlight++;
      const timer = setTimeout(() => {
        inFlight--;
        if (!to.destroyed) to.write(chunk);
        if (pendingEnd && inFlight === 0) to.end();
      }, at - Date.now());
      timer.unref();
    });
    from.on('end', () => {
      if (inFlight === 0) to.end();
      else pendingEnd = true;
    });
  };

  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const openedAt = Date.now();
    const upstream = connect(options.target.port, options.target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    pipeDelayed(client, upstream, () => openedAt + 3 * proxy.oneWayMs);
    pipeDelayed(upstream, client, () => 0);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      // Let delayed bytes drain before closing the client side.
      const t = setTimeout(() => client.destroy(), proxy.oneWayMs + 5);
      t.unref();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const proxy: LatencyProxy = {
    name: options.name,
    port,
    url: `http://127.0.0.1:${port}`,
    oneWayMs: options.oneWayMs,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
