import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { responseOnSocket } from '@edgekit/core';
import type { ForwarderCore } from './forwarder-core.js';
import { NodeExchange } from './node-handler.js';

// `Upgrade` values forwarded as a tunnel. h2c is this hop's business (RFC 9113 §3.1 dropped it);
// such requests, and upgrades on methods other than GET, are forwarded as plain requests.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+)?$/;

/** The protocol to ask the upstream for, or `undefined` when the request is forwarded without upgrading. */
export function upgradeProtocolOf(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET') return undefined;
  const value = req.headers.upgrade;
  if (typeof value !== 'string') return undefined;
  // Several offers: the first one the upstream would pick first (RFC 9110 §7.8); one is enough for a tunnel.
  const first = value.split(',')[0]!.trim();
  if (!TOKEN.test(first) || first.toLowerCase() === 'h2c') return undefined;
  return first;
}

function destroyBoth(a: Duplex, b: Duplex): void {
  a.destroy();
  b.destroy();
}

/**
 * An exchange for a request that asked to switch protocols (a server's `'upgrade'` event). Until the
 * upstream answers 101 it behaves like a Node response on the client's socket (failover, errors as
 * problem+json, a refusal relayed as is, then the connection closed); after a 101 it writes the
 * switch to the client and joins both sockets.
 */
export class UpgradeExchange extends NodeExchange {
  readonly #socket: Socket;
  readonly #head: Buffer;
  readonly #res: ServerResponse;

  constructor(core: ForwarderCore, req: IncomingMessage, socket: Socket, head: Buffer) {
    // An answer that is not a switch is the last on this connection; socket errors surface as its
    // close, which ends the exchange.
    const res = responseOnSocket(req, socket);
    super(core, req, res, undefined, undefined);
    this.#socket = socket;
    this.#head = head;
    this.#res = res;
    this.upgradeProtocol = upgradeProtocolOf(req);
  }

  protected override deliverUpgrade(statusCode: number, headers: string[], upstream: Duplex): void {
    const client = this.#socket;
    const res = this.#res;
    if (client.destroyed) {
      upstream.destroy();
      return;
    }
    res.detachSocket(client);
    let head = `HTTP/1.1 ${statusCode} Switching Protocols\r\n`;
    for (let i = 0; i + 1 < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
    client.setTimeout(0);
    client.setNoDelay(true);
    // Node's HTTP server keeps its sockets half-open after the peer's FIN; a tunnel ends with either side.
    client.allowHalfOpen = false;
    upstream.allowHalfOpen = false;
    client.write(`${head}\r\n`, 'latin1');
    if (this.#head.length > 0) upstream.write(this.#head);
    upstream.on('error', () => destroyBoth(client, upstream));
    client.on('error', () => destroyBoth(client, upstream));
    upstream.on('close', () => client.destroySoon());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
