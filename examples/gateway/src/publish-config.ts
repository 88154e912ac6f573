// `edge-gateway-publish-config --config gateway.yaml --servers nats://host:4222`: validates a
// configuration file and publishes it to the JetStream key-value bucket every gateway watches.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { publishConfigFile } from './config-bucket.js';
import { ConfigError } from './config.js';

const USAGE = `usage: edge-gateway-publish-config --config <file> --servers <nats://host:port,...> [--bucket edgekit-config] [--key gateway] [--expect-revision N]

  --config, -c        configuration file to validate and publish
  --servers, -s       NATS servers (comma-separated; default: $NATS_URL)
  --bucket            key-value bucket (default: edgekit-config)
  --key               key of the configuration (default: gateway)
  --expect-revision   publish only if the key is at this revision (0: only if it does not exist)`;

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv.filter((arg) => arg !== '--'),
    options: {
      config: { type: 'string', short: 'c' },
      servers: { type: 'string', short: 's' },
      bucket: { type: 'string', default: 'edgekit-config' },
      key: { type: 'string', default: 'gateway' },
      'expect-revision': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const servers = (values.servers ?? process.env.NATS_URL ?? '').split(',').filter((s) => s !== '');
  if (values.help || values.config === undefined || servers.length === 0) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const expected = values['expect-revision'];
  if (expected !== undefined && !/^\d+$/.test(expected)) {
    console.error(`--expect-revision must be a non-negative integer (got ${JSON.stringify(expected)})`);
    return 2;
  }
  const file = resolve(values.config);
  const { revision } = await publishConfigFile(file, { servers, bucket: values.bucket, key: values.key }, expected === undefined ? undefined : Number(expected));
  console.log(`${file}: valid; published to ${values.bucket}/${values.key} as revision ${revision}`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : `publish failed: ${(error as Error).message}`);
    process.exit(1);
  },
);
