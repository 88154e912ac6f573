import type { Server, Socket } from 'node:net';
import { createTrustedProxies, normalizeIp } from '@edgekit/geo';

/** What the cap reads from the current configuration (it follows reloads). */
export interface ConnectionCapSettings {
  /** Open connections per peer address at most; `0`: no cap. */
  max: number;
  /** Peers never capped (the proxies in front, whose connections carry many clients). */
  trustedProxies: readonly string[];
}

/**
 * Caps the connections one peer address holds open on `server`. Peers in `trustedProxies` are
 * exempt: behind a load balancer the per-client cap is the forwarder's `maxInFlightPerClient`.
 */
export function capConnectionsPerClient(server: Server, settings: () => ConnectionCapSettings): void {
  const open = new Map<string, number>();
  let trustedFor: readonly string[] | undefined;
  let isTrusted: (ip: string) => boolean = () => false;
  // Before the HTTP server's own listener: a refused connection never gets a parser.
  server.prependListener('connection', (socket: Socket) => {
    const { max, trustedProxies } = settings();
    if (max === 0) return;
    const ip = normalizeIp(socket.remoteAddress ?? '');
    if (ip === undefined) return;
    if (trustedProxies !== trustedFor) {
      trustedFor = trustedProxies;
      isTrusted = createTrustedProxies([...trustedProxies]);
    }
    if (isTrusted(ip)) return;
    const count = open.get(ip) ?? 0;
    if (count >= max) {
      // Closed before the HTTP server reads anything from it (as a listener's backlog limit would).
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    open.set(ip, count + 1);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left === 0) open.delete(ip);
      else open.set(ip, left);
    });
  });
}
