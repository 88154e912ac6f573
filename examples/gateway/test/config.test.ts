import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, ENV_OVERRIDES, createGateway, loadConfigFile, parseConfig, parseConfigText } from '../src/index.js';

const region = (name: string, url = `http://127.0.0.1:1/${name}`) => ({ name, url, location: { lat: 0, lon: 0 } });

function issuesOf(run: () => unknown): Array<{ path: string; message: string }> {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('ECONFIG');
    return [...(error as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('applies every default to a minimal configuration', () => {
    const config = parseConfig({ regions: [region('us')] }, { env: {} });
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 8080,
      maxConnectionsPerClient: 256,
      shutdownDelay: 5_000,
      drainTimeout: 20_000,
      reloadDrainTimeout: 30_000,
      pathParameters: 'refuse',
      refusedMethods: ['TRACE', 'TRACK'],
      refusedHeaders: ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-url', 'x-rewrite-url'],
      http2: { enabled: true, cleartext: false },
      maxConcurrentStreams: 100,
      clientCertificateHeaders: ['x-forwarded-client-cert', 'x-client-cert', 'x-ssl-client-cert', 'ssl-client-cert', 'x-client-verify', 'x-ssl-client-verify', 'x-ssl-client-s-dn', 'x-client-dn', 'client-cert', 'client-cert-chain', 'x-ssl-client-dn', 'x-client-cert-subject', 'x-arr-clientcert', 'x-amzn-mtls-clientcert', 'x-amzn-mtls-clientcert-leaf'],
    });
    expect(config.cache.enabled).toBe(true);
    expect(config.redis.url).toBeNull();
    expect(config.geo.trustedProxies).toEqual(['loopback']);
    expect(config.routes).toEqual([]);
  });

  it('lists every error with its path, structural and cross-reference alike', () => {
    const issues = issuesOf(() =>
      parseConfig(
        {
          regions: [region('us', 'ftp://x'), { ...region('us'), location: { lat: 91, lon: 0 } }],
          routing: { defaultRegion: 'mars', rules: { countries: { DE: 'eu' } } },
          cache: { routes: { '/no-method': { ttl: -1 } } },
          routes: [{ path: 'api', auth: 'jwt', rateLimit: 'missing' }],
          servr: {},
        },
        { env: {} },
      ),
    );
    const paths = issues.map((issue) => issue.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        'regions[0].url',
        'regions[1].location.lat',
        'regions[1].name',
        'routing.defaultRegion',
        'routing.rules.countries.DE',
        'routes[0].path',
        'routes[0].auth',
        'routes[0].rateLimit',
        'servr',
      ]),
    );
    expect(paths.some((path) => path.startsWith('cache.routes'))).toBe(true);
    expect(issues.find((issue) => issue.path === 'servr')?.message).toBe('unknown field');
    expect(issues.find((issue) => issue.path === 'regions[1].name')?.message).toContain('duplicate');
  });

  it('names every error in the message, one per line', () => {
    try {
      parseConfig({ regions: [] }, { env: {}, source: 'gateway.yaml' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toMatch(/^invalid gateway configuration in gateway\.yaml \(1 error\):\n {2}- regions: at least one region is required$/);
    }
  });

  it('applies environment overrides before validation and blames the variable', () => {
    const config = parseConfig(
      { regions: [region('us')], edge: { location: 'file' } },
      { env: { EDGE_LOCATION: 'ap-south', EDGE_NODE_ID: 'pod-7', PORT: '9090', REDIS_URL: 'redis://r:6379', EDGE_ADMIN_TOKEN: 'x'.repeat(32) } },
    );
    expect(config.edge).toMatchObject({ location: 'ap-south', nodeId: 'pod-7' });
    expect(config.server.port).toBe(9090);
    expect(config.redis.url).toBe('redis://r:6379');
    expect(config.admin.token).toBe('x'.repeat(32));
    const issues = issuesOf(() => parseConfig({ regions: [region('us')] }, { env: { PORT: 'eighty', REDIS_URL: 'http://nope', EDGE_ADMIN_TOKEN: 'short' } }));
    expect(issues.map((issue) => issue.path).sort()).toEqual(['admin.token (from EDGE_ADMIN_TOKEN)', 'redis.url (from REDIS_URL)', 'server.port (from PORT)']);
    expect(ENV_OVERRIDES.map((override) => override.env)).toEqual(['EDGE_LOCATION', 'EDGE_NODE_ID', 'PORT', 'HOST', 'REDIS_URL', 'NATS_URL', 'EDGE_ADMIN_TOKEN']);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    const [issue] = issuesOf(() => parseConfigText('regions:\n  - name: us\n    name: eu\n', { env: {} }));
    expect(issue?.message).toMatch(/cannot be parsed as YAML: .*Map keys must be unique.*line 3/s);
  });

  it('loads YAML and JSON files by extension, and names a missing file', async () => {
    const yamlFile = join(dir, 'gateway.yaml');
    writeFileSync(yamlFile, 'regions:\n  - { name: us, url: "http://127.0.0.1:1", location: { lat: 0, lon: 0 } }\n');
    expect((await loadConfigFile(yamlFile, { env: {} })).config.regions[0]?.name).toBe('us');
    const jsonFile = join(dir, 'gateway.json');
    writeFileSync(jsonFile, JSON.stringify({ regions: [region('eu')] }));
    expect((await loadConfigFile(jsonFile, { env: {} })).config.regions[0]?.name).toBe('eu');
    writeFileSync(jsonFile, '{ "regions": [ }');
    await expect(loadConfigFile(jsonFile, { env: {} })).rejects.toThrow(/cannot be parsed as JSON/);
    await expect(loadConfigFile(join(dir, 'missing.yaml'), { env: {} })).rejects.toThrow(/cannot be read: ENOENT/);
  });

  it('rejects bad gateway options and configurations before starting anything', async () => {
    await expect(createGateway({ regions: [region('us')] }, { logger: 5 as never })).rejects.toThrow(/option "logger"/);
    await expect(createGateway({ regions: [region('us')] }, { watchDebounce: -1 })).rejects.toThrow(/option "watchDebounce"/);
    await expect(createGateway({ regions: [] }, { env: {} })).rejects.toBeInstanceOf(ConfigError);
  });

  it('accepts the example configuration shipped with the gateway', async () => {
    const file = new URL('../config/gateway.example.yaml', import.meta.url);
    const { config } = await loadConfigFile(file.pathname, { env: {} });
    expect(config.regions.map((r) => r.name)).toEqual(['us-east', 'eu-west', 'ap-south']);
    expect(readFileSync(file, 'utf8')).toContain('EDGE_LOCATION');
  });
});
