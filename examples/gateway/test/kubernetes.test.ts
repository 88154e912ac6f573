import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIFECYCLE_DEFAULTS } from '@edgekit/health';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_OVERRIDES, type Gateway, type GatewayConfig, createGateway, parseConfig } from '../src/index.js';
import { type DemoOrigin, startDemoOrigin } from '../src/origin.js';
import { waitFor } from './helpers.js';

// Manifests are free-form YAML; the assertions below are their schema.
type Doc = Record<string, any>;

const DIR = fileURLToPath(new URL('../deploy/kubernetes/', import.meta.url));
const RULES_FILE = join(DIR, 'rules', 'edge-gateway.rules.yml');
const docsOf = (file: string): Doc[] => parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((doc) => {
  expect(doc.errors, `${file}: ${doc.errors.join('; ')}`).toEqual([]);
  return doc.toJS() as Doc;
});
const all: Array<{ file: string; doc: Doc }> = readdirSync(DIR)
  .filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml')
  .flatMap((file) => docsOf(file).map((doc) => ({ file, doc })));
const find = (kind: string, name?: string): Doc => {
  const found = all.filter(({ doc }) => doc.kind === kind && (name === undefined || doc.metadata?.name === name));
  expect(found.length, `${kind} ${name ?? ''}`).toBe(1);
  return found[0]!.doc;
};

const deployment = find('Deployment', 'edge-gateway');
const container = deployment.spec.template.spec.containers[0] as Doc;
const configMap = find('ConfigMap', 'edge-gateway-config');
const externalSecret = find('ExternalSecret');
const service = find('Service', 'edge-gateway');
const literalEnv = Object.fromEntries((container.env as Doc[]).filter((e) => typeof e.value === 'string').map((e) => [e.name, e.value as string]));
const k8sConfig: GatewayConfig = parseConfig(parse(configMap.data['gateway.yaml']), {
  env: { ...literalEnv, EDGE_NODE_ID: 'edge-gateway-abc12', EDGE_ADMIN_TOKEN: 'x'.repeat(32) },
  source: 'configmap.yaml',
});

/** Metric names a PromQL expression reads (function and aggregation names, labels and keywords left out). */
function metricNamesOf(expr: string): string[] {
  let text = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  text = text.replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  text = text.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan', 'Inf', 'NaN']);
  const names = new Set<string>();
  for (const match of text.matchAll(/(?<![0-9.a-zA-Z_:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    if (match[2] === undefined && !keywords.has(match[1]!)) names.add(match[1]!);
  }
  return [...names];
}

/** `metric{label="x"}` matchers: metric name and the label names it filters on. */
function matchersOf(expr: string): Array<{ metric: string; labels: string[] }> {
  return [...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g)].map((match) => ({
    metric: match[1]!,
    labels: [...match[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)].map((label) => label[1]!),
  }));
}

const byLabelsOf = (expr: string): string[] => [...expr.matchAll(/\bby\s*\(([^)]*)\)/g)].flatMap((match) => match[1]!.split(',').map((label) => label.trim()).filter(Boolean));

const ruleGroups = (parse(readFileSync(RULES_FILE, 'utf8')) as { groups: Array<{ name: string; rules: Doc[] }> }).groups;
const analysis = find('AnalysisTemplate');
const analysisQueries: Array<{ name: string; query: string }> = (analysis.spec.metrics as Doc[]).map((metric) => ({
  name: metric.name as string,
  query: (metric.provider.prometheus.query as string).replace(/\{\{args\.([a-z-]+)\}\}/g, 'sample'),
}));
const podMonitor = find('PodMonitor');
/** Labels Prometheus adds at scrape time (job, instance) or the PodMonitor copies onto every series. */
const scrapeLabels = new Set(['job', 'instance', ...(podMonitor.spec.podMetricsEndpoints[0].relabelings as Doc[]).map((r) => r.targetLabel as string)]);
/** Series of the blackbox exporter, not of the gateway. */
const blackboxMetrics = new Set(['probe_success']);

function portNumber(port: string | number): number {
  if (typeof port === 'number') return port;
  const named = (container.ports as Doc[]).find((p) => p.name === port);
  expect(named, `container port named ${port}`).toBeDefined();
  return named!.containerPort as number;
}

describe('deploy/kubernetes manifests', () => {
  it('lists every manifest in the kustomization, and parses every document', () => {
    const listed = (parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as { resources: string[] }).resources;
    const files = readdirSync(DIR).filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml');
    expect([...listed].sort()).toEqual(files.sort());
    expect(all.length).toBeGreaterThanOrEqual(12);
    for (const { doc, file } of all) expect(doc.apiVersion && doc.kind && doc.metadata?.name, file).toBeTruthy();
  });

  it('mounts a valid gateway configuration as a folder (hot reload through ..data), at the --config path', () => {
    expect(k8sConfig.server.port).toBe(8080);
    const args = container.args as string[];
    const configPath = args[args.indexOf('--config') + 1]!;
    const mount = (container.volumeMounts as Doc[]).find((m) => m.mountPath === dirname(configPath));
    expect(mount, 'a volume mounted at the folder of --config').toBeDefined();
    expect(mount!.subPath, 'subPath mounts are never updated').toBeUndefined();
    const volume = (deployment.spec.template.spec.volumes as Doc[]).find((v) => v.name === mount!.name);
    expect(volume?.configMap?.name).toBe(configMap.metadata.name);
    expect(Object.keys(configMap.data)).toContain(basename(configPath));
  });

  it('probes the gateway\'s own paths on its listening port, with timings that fit its shutdown', () => {
    const { livenessProbe, readinessProbe, startupProbe } = container as Doc;
    expect(livenessProbe.httpGet.path).toBe(LIFECYCLE_DEFAULTS.healthPath);
    expect(startupProbe.httpGet.path).toBe(LIFECYCLE_DEFAULTS.healthPath);
    expect(readinessProbe.httpGet.path).toBe(LIFECYCLE_DEFAULTS.readyPath);
    for (const probe of [livenessProbe, readinessProbe, startupProbe]) expect(portNumber(probe.httpGet.port)).toBe(k8sConfig.server.port);
    expect(Number(literalEnv.PORT)).toBe(k8sConfig.server.port);
    // Readiness must fail (and the pod leave the endpoints) before the listener closes...
    expect(readinessProbe.periodSeconds * readinessProbe.failureThreshold * 1000).toBeLessThan(k8sConfig.server.shutdownDelay);
    // ...and Kubernetes must not kill the pod before the drain is over.
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(k8sConfig.server.shutdownDelay + k8sConfig.server.drainTimeout);
    expect(service.spec.ports[0].targetPort).toBe('http');
    expect(service.spec.selector).toEqual(deployment.spec.template.metadata.labels);
  });

  it('sets only environment variables the gateway reads, with secrets from the ExternalSecret', () => {
    const known = new Set<string>(ENV_OVERRIDES.map((o) => o.env));
    const names = (container.env as Doc[]).map((e) => e.name as string);
    for (const name of names) expect(known, `env ${name}`).toContain(name);
    expect(names).toEqual(expect.arrayContaining(['EDGE_LOCATION', 'EDGE_NODE_ID', 'PORT', 'EDGE_ADMIN_TOKEN', 'REDIS_URL']));
    const secretKeys = (externalSecret.spec.data as Doc[]).map((d) => d.secretKey as string);
    const fromSecrets = (container.env as Doc[]).filter((e) => e.valueFrom?.secretKeyRef);
    expect(fromSecrets.map((e) => e.name).sort()).toEqual(['EDGE_ADMIN_TOKEN', 'REDIS_URL']);
    for (const env of fromSecrets) {
      expect(env.valueFrom.secretKeyRef.name).toBe(externalSecret.spec.target.name);
      expect(secretKeys).toContain(env.valueFrom.secretKeyRef.key);
    }
    expect((container.env as Doc[]).find((e) => e.name === 'EDGE_NODE_ID')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
  });

  it('has one Istio DestinationRule per regional backend host the gateway forwards to, with outlier detection', () => {
    const rules = all.filter(({ doc }) => doc.kind === 'DestinationRule').map(({ doc }) => doc);
    expect(rules.map((rule) => rule.spec.host).sort()).toEqual(k8sConfig.regions.map((region) => new URL(region.url).hostname).sort());
    for (const rule of rules) {
      const outlier = rule.spec.trafficPolicy.outlierDetection;
      expect(outlier.consecutive5xxErrors).toBeGreaterThan(0);
      expect(outlier.consecutiveErrors, 'deprecated field').toBeUndefined();
      expect(outlier.maxEjectionPercent).toBeLessThan(100);
    }
  });

  it('points the Rollout at the Deployment and at an AnalysisTemplate with the arguments it takes', () => {
    const rollout = find('Rollout');
    expect(rollout.spec.workloadRef).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(rollout.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    const templates = (rollout.spec.strategy.canary.analysis.templates as Doc[]).map((t) => t.templateName);
    expect(templates).toEqual([analysis.metadata.name]);
    const given = (rollout.spec.strategy.canary.analysis.args as Doc[]).map((a) => a.name).sort();
    expect(given).toEqual((analysis.spec.args as Doc[]).map((a) => a.name).sort());
    expect(podMonitor.spec.podMetricsEndpoints[0]).toMatchObject({ port: 'admin', path: '/metrics' });
    expect(portNumber(podMonitor.spec.podMetricsEndpoints[0].port)).toBe(k8sConfig.server.adminPort);
    // The admin port stays inside the cluster network: the Service exposes the public port only.
    expect((service.spec.ports as Doc[]).map((p) => p.targetPort)).toEqual(['http']);
  });

  it('keeps the PrometheusRule and the plain rules file identical', () => {
    expect(find('PrometheusRule').spec.groups).toEqual(ruleGroups);
  });

  it('reads metric names out of PromQL', () => {
    expect(metricNamesOf('histogram_quantile(0.95, sum by (le, location) (rate(a_bucket{x="y{z}"}[5m]))) > 0.5 or vector(1e-9)').sort()).toEqual(['a_bucket']);
    expect(metricNamesOf('sum(rate(a[1m])) / (sum(rate(b[1m])) > 0) and on (x) c == 1')).toEqual(['a', 'b', 'c']);
  });

  const promtool = ['/usr/bin/promtool', ...(process.env.PATH ?? '').split(':').map((dir) => join(dir, 'promtool'))].find((path) => existsSync(path));
  const promtoolRequired = process.env.CI === 'true';
  if (!promtool && !promtoolRequired) {
    console.warn('\n\u001b[33m!!! SKIPPING promtool checks: promtool is not on the PATH (apt-get install prometheus). CI=true makes this a failure.\u001b[0m\n');
  }
  it.runIf(Boolean(promtool) || promtoolRequired)('passes `promtool check rules`, for the alert rules and for the analysis queries', () => {
    if (!promtool) throw new Error('promtool is required when CI=true (apt-get install prometheus)');
    const out = execFileSync(promtool, ['check', 'rules', RULES_FILE], { encoding: 'utf8' });
    expect(out).toContain('SUCCESS');
    // The analysis queries, as recording rules, get the same PromQL check.
    const dir = mkdtempSync(join(tmpdir(), 'gateway-promtool-'));
    try {
      const file = join(dir, 'analysis.rules.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'analysis', rules: analysisQueries.map((q) => ({ record: `analysis:${q.name.replace(/-/g, '_')}`, expr: q.query })) }] }));
      expect(execFileSync(promtool, ['check', 'rules', file], { encoding: 'utf8' })).toContain(`SUCCESS: ${analysisQueries.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('against a running gateway built from the ConfigMap', () => {
    let gateway: Gateway;
    let origins: DemoOrigin[];
    let url: string;
    let exposition: string;

    beforeAll(async () => {
      origins = await Promise.all(k8sConfig.regions.map((region) => startDemoOrigin({ region: region.name })));
      const local = {
        ...k8sConfig,
        server: { ...k8sConfig.server, host: '127.0.0.1', port: 0, adminPort: 0, shutdownDelay: 0 },
        regions: k8sConfig.regions.map((region, i) => ({ ...region, url: origins[i]!.url })),
        geo: { ...k8sConfig.geo, trustedProxies: ['loopback'], resolver: { static: [{ cidr: '81.2.69.0/24', country: 'GB' }] } },
        health: { ...k8sConfig.health, interval: 200, timeout: 5_000, jitter: 0, initialJitter: 0, unhealthyThreshold: 1, healthyThreshold: 1 },
      };
      gateway = await createGateway(local, { env: { ...literalEnv, EDGE_NODE_ID: 'edge-gateway-abc12' }, logger: () => {} });
      url = await gateway.listen();
      await waitFor(async () => (await fetch(`${url}/ready`)).status === 200, 10_000, 'ready');
      const london = { 'x-forwarded-for': '81.2.69.160' };
      // Traffic that touches every metric: routed requests, a failover, cache misses and hits, a breaker opening.
      for (let i = 0; i < 3; i++) await (await fetch(`${url}/api/products/1`, { headers: london })).arrayBuffer();
      origins[1]!.setFailure(503);
      expect((await fetch(`${url}/api/items`, { headers: london })).headers.get('x-served-by')).not.toBe('eu-west');
      origins[1]!.setFailure(undefined);
      origins[2]!.setHealthy(false);
      await waitFor(() => gateway.status().regions[2]!.breaker === 'open', 5_000, 'ap-south breaker opened by its failing checks');
      exposition = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    }, 30_000);
    afterAll(async () => {
      await gateway?.close();
      await Promise.all((origins ?? []).map((origin) => origin.close()));
    });

    const series = () => {
      const map = new Map<string, Set<string>>();
      for (const line of exposition.split('\n')) {
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? /.exec(line);
        if (!match) continue;
        const labels = map.get(match[1]!) ?? new Set<string>();
        for (const label of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) labels.add(label[1]!);
        map.set(match[1]!, labels);
      }
      return map;
    };

    it('answers the probe paths', async () => {
      expect((await fetch(`${url}${container.livenessProbe.httpGet.path}`)).status).toBe(200);
      expect((await fetch(`${url}${container.readinessProbe.httpGet.path}`)).status).toBe(200);
    });

    it('exports every metric (and label) that the alert rules and the canary analysis query', () => {
      const exported = series();
      const expressions = [
        ...ruleGroups.flatMap((group) => group.rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr as string, summary: (rule.annotations?.summary as string) ?? '' }))),
        ...analysisQueries.map((q) => ({ where: `analysis ${q.name}`, expr: q.query, summary: '' })),
      ];
      const used = new Set<string>();
      for (const { where, expr, summary } of expressions) {
        const names = metricNamesOf(expr);
        expect(names.length, where).toBeGreaterThan(0);
        for (const name of names) {
          used.add(name);
          if (blackboxMetrics.has(name)) continue;
          expect(exported.has(name), `${where} reads ${name}, which /metrics does not export`).toBe(true);
        }
        for (const { metric, labels } of matchersOf(expr)) {
          if (blackboxMetrics.has(metric)) continue;
          for (const label of labels) {
            if (scrapeLabels.has(label)) continue;
            expect(exported.get(metric), `${where}: ${metric} has no label ${label}`).toContain(label);
          }
        }
        const available = new Set(names.flatMap((name) => [...(exported.get(name) ?? [])]));
        for (const label of byLabelsOf(expr)) expect(available, `${where}: no metric it reads has label ${label}`).toContain(label);
        for (const [, label] of summary.matchAll(/\$labels\.([a-zA-Z_]+)/g)) {
          const by = byLabelsOf(expr);
          const pool = by.length > 0 ? new Set(by) : new Set([...available, ...scrapeLabels]);
          expect(pool, `${where}: the summary uses $labels.${label}, which the expression drops`).toContain(label);
        }
      }
      // The operator-facing names are all in use.
      for (const name of ['edge_routing_requests_total', 'edge_routing_failovers_total', 'edge_gateway_request_duration_seconds_bucket', 'edge_to_backend_duration_seconds_bucket', 'edge_cache_requests_total', 'edge_cache_hits_total', 'edge_breaker_state', 'edge_region_healthy']) {
        expect(used, name).toContain(name);
      }
    });

    it('passes the blackbox synthetic check: status and X-Served-By as the module expects', async () => {
      const blackbox = parse(find('ConfigMap', 'blackbox-exporter-config').data['blackbox.yml']) as Doc;
      const module = blackbox.modules[find('Probe').spec.module] as Doc;
      expect(module, 'the Probe names a configured module').toBeDefined();
      const target = new URL(find('Probe').spec.targets.staticConfig.static[0] as string);
      expect(target.hostname).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
      expect(Number(target.port || 80)).toBe(service.spec.ports[0].port);
      const headerRule = module.http.fail_if_header_not_matches[0] as { header: string; regexp: string };
      // The regexp accepts exactly the configured regions.
      expect(headerRule.regexp).toBe(`^(${k8sConfig.regions.map((r) => r.name).join('|')})$`);
      const response = await fetch(`${url}${target.pathname}`, { headers: module.http.headers });
      expect(module.http.valid_status_codes).toContain(response.status);
      expect(response.headers.get(headerRule.header)).toMatch(new RegExp(headerRule.regexp));
    });
  });
});
