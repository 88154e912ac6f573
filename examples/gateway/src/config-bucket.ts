import { readFile } from 'node:fs/promises';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseConfigText } from './config.js';
import { connectNats } from './event-stream.js';

/** Where the configuration lives in JetStream: a key-value bucket and a key. */
export interface ConfigBucketLocation {
  servers: readonly string[];
  bucket: string;
  key: string;
}

/** Opens (creating when missing) the configuration bucket; it keeps the last 16 revisions. */
export function openConfigBucket(connection: NatsConnection, bucket: string): Promise<KV> {
  return new Kvm(connection).create(bucket, { history: 16 });
}

/**
 * Validates a configuration file exactly as a gateway would (no environment overrides: those are
 * per node) and stores its text in the bucket. With `expectRevision`, the write succeeds only if the
 * key is still at that revision (0: the key must not exist yet). Resolves with the new revision.
 */
export async function publishConfigFile(file: string, location: ConfigBucketLocation, expectRevision?: number): Promise<{ revision: number }> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new ConfigError([{ path: '', message: `cannot be read: ${error.code ?? error.message}` }], file);
  });
  parseConfigText(text, { env: {}, source: file, format: file.toLowerCase().endsWith('.json') ? 'json' : 'yaml' });
  const connection = await connectNats(location.servers, 'edgekit-gateway publish-config');
  try {
    const kv = await openConfigBucket(connection, location.bucket);
    const revision =
      expectRevision === undefined
        ? await kv.put(location.key, text)
        : expectRevision === 0
          ? await kv.create(location.key, text)
          : await kv.update(location.key, text, expectRevision);
    return { revision };
  } finally {
    await connection.close();
  }
}

/** A running watch of the configuration key. */
export interface ConfigBucketWatch {
  /** Revision of the last value seen (applied or rejected); 0 before the first. */
  readonly revision: number;
  close(): Promise<void>;
}

/**
 * Watches the configuration key: the current value (applied before this resolves), then every new
 * revision, each handed to `apply` (the gateway's reload, which validates and either swaps the whole
 * pipeline or keeps the running one). Deleting the key leaves the running configuration as it is.
 */
export async function watchConfigBucket(
  location: ConfigBucketLocation & { nodeId: string },
  apply: (raw: unknown, source: string) => Promise<unknown>,
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void,
): Promise<ConfigBucketWatch> {
  const connection = await connectNats(location.servers, `edgekit-gateway ${location.nodeId} config`);
  let revision = 0;
  let current: KvEntry | null = null;
  let iterator: Awaited<ReturnType<KV['watch']>> | undefined;
  try {
    const kv = await openConfigBucket(connection, location.bucket);
    // The current value by a direct read, then a watch from the next revision: a watcher whose bucket
    // lives in another cluster of a supercluster gets its first delivery only once the server's
    // once-a-second gateway interest check finds it, so reading the start value through it costs up to 1 s.
    current = await kv.get(location.key);
    iterator = await kv.watch({ key: location.key, ...(current ? { resumeFromRevision: current.revision + 1 } : {}) });
  } catch (error) {
    await connection.close();
    throw error;
  }
  const handle = async (entry: KvEntry): Promise<void> => {
    if (entry.operation !== 'PUT' || entry.revision <= revision) return;
    revision = entry.revision;
    const source = `nats-kv://${location.bucket}/${location.key}@${entry.revision}`;
    let raw: unknown;
    try {
      raw = parseYaml(entry.string(), { uniqueKeys: true });
    } catch (error) {
      log('error', 'configuration revision rejected: not YAML or JSON', { source, error: (error as Error).message });
      return;
    }
    log('info', 'configuration revision received', { source });
    // A rejected revision is logged, counted and shown on the status page by the reload itself.
    await apply(raw, source).catch(() => {});
  };
  // The gateway starts on the bucket's configuration, not on the file's for a moment.
  if (current) await handle(current);
  const watching = (async () => {
    for await (const entry of iterator) await handle(entry);
  })();
  return {
    get revision() {
      return revision;
    },
    async close() {
      iterator?.stop();
      await watching.catch(() => {});
      await connection.close();
    },
  };
}
