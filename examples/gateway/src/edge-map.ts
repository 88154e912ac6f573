import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EdgeMap } from '@edgekit/client';
import { signEdgeMap } from '@edgekit/client/sign';
import type { Clock } from '@edgekit/core';
import type { GatewayConfig } from './config.js';

/** Answers the edge map path with the signed map; false for any other path. */
export type EdgeMapEndpoint = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

/**
 * Serves `edgeMap.edges` as a signed `EdgeMap` (what `@edgekit/client` verifies) on `edgeMap.path`.
 * The map is signed on first use and again once half its `ttl` has passed; browsers on any origin may
 * read it and its `x-region-hint` header.
 */
export function createEdgeMapEndpoint(config: GatewayConfig, clock: Clock): EdgeMapEndpoint | undefined {
  const settings = config.edgeMap;
  if (settings === undefined) return undefined;
  const hint = settings.regionHint ?? settings.edges.find((edge) => edge.id === config.edge.location)?.region;
  let signed: { token: Promise<string>; renewAt: number } | undefined;

  const token = (): Promise<string> => {
    const now = clock.now();
    if (signed === undefined || now >= signed.renewAt) {
      const map: EdgeMap = { version: settings.version, issuedAt: now, expiresAt: now + settings.ttl, edges: settings.edges };
      const pending = signEdgeMap(map, settings.privateKey);
      // A failed signature (a bad key) is not cached: the next request tries again.
      pending.catch(() => {
        if (signed?.token === pending) signed = undefined;
      });
      signed = { token: pending, renewAt: now + settings.ttl / 2 };
    }
    return signed.token;
  };

  return (req, res, path) => {
    if (path !== settings.path) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    token().then(
      (body) => {
        res.writeHead(200, {
          'content-type': 'application/jose',
          'content-length': Buffer.byteLength(body),
          // Clients verify the signature, so any cache may keep the map for a while.
          'cache-control': `public, max-age=${Math.min(300, Math.floor(settings.ttl / 2_000))}`,
          'access-control-allow-origin': '*',
          'access-control-expose-headers': 'x-region-hint',
          vary: 'accept-encoding',
          ...(hint === undefined ? {} : { 'x-region-hint': hint }),
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`edge map: ${(error as Error).message}`);
      },
    );
    return true;
  };
}
