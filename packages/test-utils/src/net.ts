import { type Socket, connect, createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';

/** Resolves with a TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** True when nothing listens on `port` of 127.0.0.1. */
export async function isPortFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Starts `server` on 127.0.0.1 with an ephemeral port and returns the port. */
export async function listen(server: Server | import('node:http').Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Closes a server, dropping idle keep-alive connections so the close does not wait for them. */
export async function closeServer(server: Server | import('node:http').Server): Promise<void> {
  if (!server.listening) return;
  const done = new Promise<void>((resolve) => server.close(() => resolve()));
  if ('closeAllConnections' in server) server.closeAllConnections();
  await done;
}

/** A TCP relay on loopback that can cut and restore its links, standing in for a network partition. */
export interface TcpRelay {
  /** The relay's port: connect here instead of to the target. */
  readonly port: number;
  /** True while the relay refuses and drops connections. */
  readonly isCut: boolean;
  /** Drops every open connection and refuses new ones until `heal()`. */
  cut(): void;
  /** Accepts connections again. */
  heal(): void;
  /** Holds what clients send for `ms` before passing it on, in order, standing in for a slow uplink. 0 turns it off. */
  delayUpstream(ms: number): void;
  close(): Promise<void>;
}

/** Starts a {@link TcpRelay} to `target` on 127.0.0.1. */
export async function startTcpRelay(target: { host?: string; port: number }): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  let isCut = false;
  let upstreamDelay = 0;
  const server = createServer((inbound) => {
    if (isCut) {
      inbound.destroy();
      return;
    }
    const outbound = connect(target.port, target.host ?? '127.0.0.1');
    sockets.add(inbound);
    sockets.add(outbound);
    const drop = (): void => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('error', drop).on('close', drop);
    outbound.on('error', drop).on('close', drop);
    // Equal delays on timers armed in order fire in order, so a delayed stream keeps its byte order.
    inbound.on('data', (chunk: Buffer) => {
      if (upstreamDelay === 0) outbound.write(chunk);
      else setTimeout(() => outbound.destroyed || outbound.write(chunk), upstreamDelay);
    });
    outbound.pipe(inbound);
  });
  const port = await listen(server);
  return {
    port,
    get isCut() {
      return isCut;
    },
    cut() {
      isCut = true;
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    heal() {
      isCut = false;
    },
    delayUpstream(ms) {
      upstreamDelay = ms;
    },
    async close() {
      isCut = true;
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
}

/** An origin on raw TCP (see {@link startRawOrigin}). */
export interface RawOrigin {
  url: string;
  port: number;
  /** Request heads received so far. */
  requests(): number;
  /** Destroys open connections and stops listening. */
  close(): Promise<void>;
}

/**
 * An origin on raw TCP for framing tests: answers each request head it reads with exactly `bytes`
 * in one write, and with `closeAfter` ends the connection that many milliseconds later.
 */
export async function startRawOrigin(bytes: string, options: { closeAfter?: number } = {}): Promise<RawOrigin> {
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      while (head.includes('\r\n\r\n')) {
        head = head.slice(head.indexOf('\r\n\r\n') + 4);
        requests++;
        socket.write(bytes);
        if (options.closeAfter !== undefined) setTimeout(() => socket.end(), options.closeAfter).unref();
      }
    });
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: () => requests,
    async close() {
      for (const socket of sockets) socket.destroy();
      await closeServer(server);
    },
  };
}
