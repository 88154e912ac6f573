#!/usr/bin/env node
// The gateway's command line: `edge-gateway --config gateway.yaml`.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { installSignalHandlers } from '@edgekit/health';
import { ConfigError, loadConfigFile } from './config.js';
import { createGateway } from './gateway.js';
import { ListenError } from './listener.js';

const USAGE = `usage: edge-gateway --config <file.yaml|file.json> [--check] [--no-watch]

  --config, -c   configuration file (default: $EDGE_CONFIG, else config/gateway.yaml)
  --check        validate the configuration (with environment overrides) and exit
  --no-watch     do not reload the configuration when the file changes

environment overrides: EDGE_LOCATION, EDGE_NODE_ID, PORT, HOST, REDIS_URL, EDGE_ADMIN_TOKEN
signals: SIGTERM drains and exits; SIGHUP reads the TLS certificate files again`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv.filter((arg) => arg !== '--'),
    options: {
      config: { type: 'string', short: 'c' },
      check: { type: 'boolean', default: false },
      'no-watch': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const file = resolve(values.config ?? process.env.EDGE_CONFIG ?? 'config/gateway.yaml');
  let config;
  try {
    ({ config } = await loadConfigFile(file));
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    return 1;
  }
  if (values.check) {
    console.log(`${file}: valid (${config.regions.length} regions, ${config.routes.length} route rules)`);
    return 0;
  }
  const gateway = await createGateway(config, { configFile: file, watch: !values['no-watch'] });
  try {
    await gateway.listen();
  } catch (error) {
    if (!(error instanceof ListenError)) throw error;
    console.error(error.message);
    await gateway.close();
    return 1;
  }
  installSignalHandlers(gateway);
  // SIGHUP: read the TLS certificate files again (open connections keep theirs).
  process.on('SIGHUP', () => {
    gateway.reloadCertificates().catch((error: unknown) => console.error(error instanceof ConfigError ? error.message : error));
  });
  return -1;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
