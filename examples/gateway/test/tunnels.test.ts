import http from 'node:http';
import type { Socket } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen } from '@edgekit/test-utils/node';
import { createGateway } from '../src/index.js';
import type { DemoOrigin } from '../src/origin.js';
import { CLIENTS, type World, baseConfig, startWorld } from './helpers.js';

type Outcome = { kind: 'upgrade'; res: http.IncomingMessage; socket: Socket } | { kind: 'response'; res: http.IncomingMessage; body: string };

/** Sends an upgrade request (`Upgrade: echo`) and resolves with the switch or the answer. */
function upgrade(url: string, path: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, agent: false, headers: { connection: 'Upgrade', upgrade: 'echo', ...headers } });
    req.on('upgrade', (res, socket: Socket) => resolve({ kind: 'upgrade', res, socket }));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ kind: 'response', res, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const echoOnce = (socket: Socket, text: string): Promise<string> =>
  new Promise((resolve) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('utf8')));
    socket.write(text);
  });

describe('upgrade tunnels through the gateway', () => {
  let world: World;
  let signer: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  const open: Socket[] = [];

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    signer = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
    world = await startWorld({
      auth: { jwt: { issuer: 'https://id.test', audience: 'edge', algorithms: ['ES256'], keys: [jwk] } },
      routes: [{ path: '/live', auth: 'jwt' }],
    });
  });
  afterAll(async () => {
    for (const socket of open) socket.destroy();
    await world?.close();
  });

  const token = () =>
    new SignJWT({ scope: 'live' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer('https://id.test').setAudience('edge').setSubject('user-1').setIssuedAt().setExpirationTime('5m').sign(signer);

  it('opens a tunnel to the client region and relays both ways', async () => {
    const outcome = await upgrade(world.url, '/echo', { 'x-forwarded-for': CLIENTS.london });
    expect(outcome.kind).toBe('upgrade');
    const { res, socket } = outcome as Extract<Outcome, { kind: 'upgrade' }>;
    open.push(socket);
    expect(res.statusCode).toBe(101);
    expect(res.headers['x-served-by']).toBe('eu');
    expect(res.headers['x-origin-region']).toBe('eu');
    expect(await echoOnce(socket, 'hello')).toBe('eu: hello');
  });

  it("runs the route's authentication before the tunnel opens", async () => {
    const refused = await upgrade(world.url, '/live', { 'x-forwarded-for': CLIENTS.singapore });
    expect(refused.kind).toBe('response');
    const { res } = refused as Extract<Outcome, { kind: 'response' }>;
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain('Bearer');
    expect(res.headers['content-type']).toBe('application/problem+json');

    const allowed = await upgrade(world.url, '/live', { 'x-forwarded-for': CLIENTS.singapore, authorization: `Bearer ${await token()}` });
    expect(allowed.kind).toBe('upgrade');
    const { socket } = allowed as Extract<Outcome, { kind: 'upgrade' }>;
    open.push(socket);
    expect(await echoOnce(socket, 'tick')).toBe('ap: tick');
  });

  it('closes open tunnels when the gateway shuts down, so shutdown does not wait on them', async () => {
    const outcome = (await upgrade(world.url, '/echo', { 'x-forwarded-for': CLIENTS.virginia })) as Extract<Outcome, { kind: 'upgrade' }>;
    expect(outcome.kind).toBe('upgrade');
    const closed = new Promise<void>((resolve) => outcome.socket.once('close', () => resolve()));
    outcome.socket.on('error', () => {});
    outcome.socket.resume();
    const result = await world.gateway.shutdown();
    expect(result.drained).toBe(true);
    await closed;
  });
});

describe('upgrade requests and client-certificate headers', () => {
  it('removes the certificate headers a client (not a trusted proxy) claims before the upgrade reaches the origin', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const origin = http.createServer((_req, res) => res.end('ok'));
    origin.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
      seen.push(req.headers);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n');
    });
    const url = `http://127.0.0.1:${await listen(origin)}`;
    const one = { url } as DemoOrigin;
    const gateway = await createGateway(baseConfig({ us: one, eu: one, ap: one }, { cache: { routes: {} }, geo: { trustedProxies: [], resolver: { static: [] } } }), { logger: () => {}, env: {} });
    try {
      const outcome = await upgrade(await gateway.listen(), '/echo', { 'X-Client-Cert': 'CN=admin', 'x-forwarded-client-cert': 'Hash=forged;Subject="CN=admin"', 'x-ssl-client-verify': 'SUCCESS' });
      expect(outcome.kind).toBe('upgrade');
      (outcome as Extract<Outcome, { kind: 'upgrade' }>).socket.destroy();
      expect(seen).toHaveLength(1);
      expect(seen[0]!['x-client-cert']).toBeUndefined();
      expect(seen[0]!['x-forwarded-client-cert']).toBeUndefined();
      expect(seen[0]!['x-ssl-client-verify']).toBeUndefined();
      expect(seen[0]!.upgrade).toBe('echo');
    } finally {
      await gateway.close();
      origin.closeAllConnections();
      await new Promise((resolve) => origin.close(resolve));
    }
  });
});
