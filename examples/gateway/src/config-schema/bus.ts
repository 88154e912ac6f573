import { z } from 'zod';
import { positiveDuration } from './fields.js';

const natsUrl = z.string().refine((value) => /^(nats|tls):\/\/[^\s]+$/.test(value), 'must be a nats:// or tls:// URL');
const natsName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "_" or "-"');
const natsSettings = z.strictObject({
  /** Servers of this region's NATS cluster. */
  servers: z.array(natsUrl).min(1),
  /** JetStream stream carrying invalidations, purges and revocations. */
  stream: natsName.default('EDGEKIT_BUS'),
  /** Subject prefix of the stream. */
  prefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be dot-separated subject tokens').default('edgekit.events'),
  /** Cluster of the supercluster that holds the stream when the gateway creates it. */
  placement: z.string().min(1).optional(),
  /** How often the node confirms its position with the stream, ms. */
  contactInterval: positiveDuration.default(1_000),
  /** Longest time without confirmed revocation state before `revocations: fresh` routes answer 503, ms. */
  maxStaleness: positiveDuration.default(10_000),
  /** JetStream key-value bucket holding the gateway configuration, watched and hot-reloaded; null: the file only. */
  configBucket: natsName.nullable().default(null),
  /** Key of the configuration in `configBucket`. */
  configKey: z.string().regex(/^[A-Za-z0-9_=-]+(\.[A-Za-z0-9_=-]+)*$/, 'must be a key-value key').default('gateway'),
});

export const busSection = z
  .strictObject({
    /** What carries invalidations, purges and revocations between gateways: Redis pub/sub (with `redis.url`) or NATS JetStream. */
    driver: z.enum(['redis', 'nats']).default('redis'),
    nats: natsSettings.optional(),
  })
  .prefault({});
