import { type Authenticator, combineAuth, createApiKeyAuth, createJwtAuth, hashApiKey } from '@edgekit/auth';
import { createRedisBus } from '@edgekit/bus';
import type { Redis } from 'ioredis';
import { type ComponentSet, identity } from './components.js';
import type { GatewayConfig } from './config.js';
import type { EventStream } from './event-stream.js';
import { RevokedKeys } from './revocations.js';

/** The authenticators of the `auth` section, by route kind (`any` combines both when both exist). */
export async function buildAuthenticators(
  config: GatewayConfig,
  components: ComponentSet,
  redis: Redis | undefined,
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void,
  events?: EventStream,
): Promise<Partial<Record<'jwt' | 'apiKey' | 'any', Authenticator>>> {
  const out: Partial<Record<'jwt' | 'apiKey' | 'any', Authenticator>> = {};
  const { jwt, apiKeys } = config.auth;
  if (jwt !== undefined) {
    out.jwt = (await components.use('auth-jwt', jwt, 'auth.jwt', () =>
      createJwtAuth({
        issuer: jwt.issuer,
        audience: jwt.audience,
        algorithms: jwt.algorithms,
        ...(jwt.keys === undefined ? {} : { keys: jwt.keys as never }),
        ...(jwt.jwksUrl === undefined ? {} : { jwks: { url: jwt.jwksUrl, allowHttp: jwt.allowHttp } }),
      }), (value) => value.close())).value;
  }
  if (apiKeys !== undefined) {
    out.apiKey = (await components.use('auth-apikeys', { apiKeys, redis: identity(redis), events: identity(events), prefix: config.redis.prefix }, 'auth.apiKeys', async () => {
      const principals = new Map(apiKeys.keys.map((entry) => [entry.sha256 ?? hashApiKey(entry.key!), { subject: entry.subject, scopes: entry.scopes }]));
      const revoked = new RevokedKeys(redis, `${config.redis.prefix}auth:revoked`, (msg, error) => log('warn', msg, { error: (error as Error).message }));
      await revoked.load(new Set(principals.keys()));
      // Revocations reach every gateway node over the bus: the NATS stream, else Redis when configured (owned here).
      const owned = events === undefined && redis !== undefined ? createRedisBus({ redis, prefix: `${config.redis.prefix}bus:` }) : undefined;
      const bus = events?.bus ?? owned;
      const validate = (key: string) => {
        const hash = hashApiKey(key);
        return revoked.has(hash) ? null : (principals.get(hash) ?? null);
      };
      const auth = createApiKeyAuth({ header: apiKeys.header, validate, ...(bus ? { bus } : {}) });
      auth.on('revoked', (event) => {
        if (principals.has(event.keyHash)) revoked.add(event.keyHash);
      });
      return Object.assign(auth, { bus: owned });
    }, async (value) => {
      await value.close();
      await value.bus?.close();
    })).value;
  }
  if (out.jwt && out.apiKey) {
    const pair = [out.jwt, out.apiKey] as const;
    out.any = (await components.use('auth-any', [identity(pair[0]), identity(pair[1])], 'auth', () => combineAuth([...pair]), (value) => value.close())).value;
  } else {
    out.any = out.jwt ?? out.apiKey;
  }
  return out;
}
