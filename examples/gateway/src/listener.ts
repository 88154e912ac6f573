import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { EdgekitError } from '@edgekit/core';

/** `http://host:port` (or `https://`) of a listening server (loopback for a wildcard address); `''` before it listens. */
export function urlOf(server: Server, scheme: 'http' | 'https' = 'http'): string {
  const address = server.address() as AddressInfo | null;
  if (address === null) return '';
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${scheme}://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}`;
}

/** The listener could not bind: a port in use (`EADDRINUSE`) or an address not allowed or not local. */
export class ListenError extends EdgekitError {
  readonly setting: string;
  constructor(code: string, message: string, context: { setting: string; cause: unknown }) {
    super(code, message, { cause: context.cause });
    this.setting = context.setting;
  }
}

export function listenOn(server: Server, port: number, host: string, setting: 'server.port' | 'server.adminPort'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      const env = setting === 'server.port' ? ' (or PORT)' : '';
      if (error.code === 'EADDRINUSE') {
        reject(new ListenError('EADDRINUSE', `edge-gateway: port ${port} on ${host} is already in use: set ${setting}${env} to a free port`, { setting, cause: error }));
      } else if (error.code === 'EACCES' || error.code === 'EADDRNOTAVAIL') {
        reject(new ListenError(error.code, `edge-gateway: cannot listen on ${host}:${port} (${error.code}): set server.host (or HOST) to a local address, and ${setting}${env} to a port above 1023`, { setting, cause: error }));
      } else {
        reject(error);
      }
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
