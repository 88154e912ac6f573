// One command for the demo: three local regional origins and a gateway in front of them.
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installSignalHandlers } from '@edgekit/health';
import { ConfigError, loadConfigFile } from './config.js';
import { createGateway } from './gateway.js';
import { ListenError } from './listener.js';
import { type DemoOrigin, startDemoOrigin } from './origin.js';

const here = dirname(fileURLToPath(import.meta.url));
const file = process.env.EDGE_CONFIG ?? join(here, '..', 'config', 'gateway.example.yaml');

async function demo(): Promise<void> {
  process.env.EDGE_ADMIN_TOKEN ??= randomBytes(18).toString('base64url');
  let loaded;
  try {
    loaded = await loadConfigFile(file);
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  }
  const origins: DemoOrigin[] = [];
  for (const [index, region] of loaded.config.regions.entries()) {
    const url = new URL(region.url);
    try {
      origins.push(await startDemoOrigin({ region: region.name, host: url.hostname, port: Number(url.port) }));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      console.error(`edge-gateway demo: port ${url.port} for the ${region.name} origin is already in use: change regions[${index}].url in ${file}`);
      await Promise.all(origins.map((origin) => origin.close()));
      process.exit(1);
    }
  }
  const gateway = await createGateway(loaded.config, { configFile: file });
  installSignalHandlers({
    async shutdown() {
      await gateway.shutdown();
      await Promise.all(origins.map((origin) => origin.close()));
    },
  });
  let url: string;
  try {
    url = await gateway.listen();
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    console.error(error.message);
    await gateway.close();
    await Promise.all(origins.map((origin) => origin.close()));
    process.exit(1);
  }
  const token = process.env.EDGE_ADMIN_TOKEN;
  console.log(`
edge gateway demo: ${origins.map((o) => `${o.region} ${o.url}`).join(', ')}

  status page   ${gateway.adminUrl}/status
  metrics       ${gateway.adminUrl}/metrics
  a product     curl -i ${url}/api/products/42                         (second call: Cache-Status hit)
  from London   curl -i -H 'X-Forwarded-For: 81.2.69.160' ${url}/api/whoami  (x-served-by: eu-west)
  an outage     curl -X POST -d '{"healthy":false,"failure":503}' ${origins[0]?.url}/__control
  purge         curl -X POST -H 'Authorization: Bearer ${token}' -H 'content-type: application/json' -d '{"tags":["products"]}' ${gateway.adminUrl}/admin/purge
  config        edit ${file}: it reloads on save

Ctrl-C stops (readiness fails first, requests drain).`);
}

void demo();
