import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayConfig } from './config.js';

/** `http://host:port` of a listening server. */
export function urlOf(server: Server): string {
  const address = server.address() as AddressInfo | null;
  if (address === null) return '';
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}`;
}

/** Listens on `port` and `host`, rejecting on a listen error. */
export function listenOn(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** `Authorization: Bearer <token>` compared in constant time (both sides hashed to equal length first). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  const presented = createHash('sha256').update(match?.[1] ?? '').digest();
  const expected = createHash('sha256').update(token).digest();
  return timingSafeEqual(presented, expected) && match !== null;
}

/** Settings a reload cannot change: they wait for the next start. */
export function restartOnly(from: GatewayConfig, to: GatewayConfig): string[] {
  const changed: string[] = [];
  if (from.server.port !== to.server.port) changed.push('server.port');
  if (from.server.host !== to.server.host) changed.push('server.host');
  if (from.server.adminPort !== to.server.adminPort) changed.push('server.adminPort');
  if (from.edge.location !== to.edge.location) changed.push('edge.location');
  if (from.edge.nodeId !== to.edge.nodeId) changed.push('edge.nodeId');
  if (from.telemetry.defaultMetrics !== to.telemetry.defaultMetrics || from.telemetry.tracing !== to.telemetry.tracing) changed.push('telemetry');
  if (from.server.shutdownDelay !== to.server.shutdownDelay || from.server.drainTimeout !== to.server.drainTimeout) changed.push('server.shutdownDelay/drainTimeout');
  return changed;
}
