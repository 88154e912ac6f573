#!/usr/bin/env node
// Installs every publishable package the way a user gets it: `pnpm pack` (which applies the
// `.pnpmfile.cjs` beforePacking hook), then `npm install` of the tarballs into a new project in a
// temporary folder outside the monorepo. There, without any optional peer installed:
//   - an ESM and a CJS file importing every entry point type-check under `--strict`, without
//     `skipLibCheck` (so no declaration may name a package the user does not have);
//   - the same imports run under node, ESM and CJS;
//   - the published manifests carry no workspace-only export condition and no devDependencies;
//   - `@edgekit/proxy` + `@edgekit/geo` install under the size budget.
// Run after `pnpm build`. Keeps the folder when EDGEKIT_KEEP_TARBALL_DIR=1.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const INSTALL_BUDGET_BYTES = 5 * 1024 * 1024;
const SIZE_SET = ['@edgekit/proxy', '@edgekit/geo'];

const run = (command, args, cwd) => execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } });
const step = (text) => console.log(`check:tarballs: ${text}`);

function fail(message) {
  console.error(`check:tarballs: FAILED: ${message}`);
  process.exitCode = 1;
}

/** Publishable workspace packages: every non-private package.json under packages/, and the gateway. */
function publishablePackages() {
  const dirs = readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(root, 'packages', entry.name));
  return [...dirs, join(root, 'examples', 'gateway')]
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => manifest.private !== true);
}

/** True when the package offers a CommonJS entry (a `require` condition); ESM-only packages are imported only. */
function hasCjs(manifest) {
  return JSON.stringify(manifest.exports ?? {}).includes('"require"');
}

/** The importable subpaths of an exports map: `'.'`, `'./express'`, ... (not package.json). */
function entryPoints(manifest) {
  const exports = manifest.exports;
  if (typeof exports !== 'object' || exports === null) return [manifest.name];
  return Object.keys(exports)
    .filter((key) => key.startsWith('.') && !key.endsWith('.json') && !key.includes('*'))
    .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`));
}

function directorySize(path) {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) total += directorySize(full);
    else if (entry.isFile()) total += statSync(full).size;
  }
  return total;
}

function newProject(dir, dependencies) {
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'edgekit-tarball-check', version: '0.0.0', private: true, dependencies }, null, 2)}\n`);
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], dir);
}

const work = mkdtempSync(join(tmpdir(), 'edgekit-tarballs-'));
if (!relative(root, work).startsWith('..')) throw new Error(`temporary folder ${work} is inside the monorepo`);
try {
  const packages = publishablePackages();
  const tarballs = new Map();
  const packDir = join(work, 'tarballs');
  for (const { dir, manifest } of packages) {
    const output = run('pnpm', ['pack', '--pack-destination', packDir], dir).trim().split('\n');
    const file = output.findLast((line) => line.endsWith('.tgz'));
    if (!file) throw new Error(`pnpm pack printed no tarball for ${manifest.name}`);
    tarballs.set(manifest.name, file.trim());
  }
  step(`packed ${tarballs.size} packages`);

  // Everything, no optional peers.
  const project = join(work, 'all');
  run('mkdir', ['-p', project]);
  newProject(project, { ...Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`])), '@types/node': '^20.19.0' });
  step(`installed the tarballs into ${project}`);

  for (const name of tarballs.keys()) {
    const installed = JSON.parse(readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8'));
    const text = JSON.stringify(installed);
    if (text.includes('@edgekit/source')) fail(`${name}'s published package.json keeps the @edgekit/source export condition`);
    if (installed.devDependencies !== undefined) fail(`${name}'s published package.json keeps devDependencies`);
    for (const file of ['README.md', 'LICENSE']) {
      try {
        statSync(join(project, 'node_modules', name, file));
      } catch {
        fail(`${name}'s tarball has no ${file}`);
      }
    }
    if (readdirSync(join(project, 'node_modules', name)).includes('src')) fail(`${name}'s tarball ships src/`);
  }

  const entries = packages.flatMap(({ manifest }) => entryPoints(manifest));
  const cjsEntries = packages.filter(({ manifest }) => hasCjs(manifest)).flatMap(({ manifest }) => entryPoints(manifest));
  const ids = entries.map((_, i) => `m${i}`);
  writeFileSync(
    join(project, 'esm.mts'),
    `${entries.map((entry, i) => `import * as ${ids[i]} from '${entry}';`).join('\n')}\nexport const modules: Record<string, object> = { ${entries.map((entry, i) => `'${entry}': ${ids[i]}`).join(', ')} };\n`,
  );
  writeFileSync(
    join(project, 'cjs.cts'),
    `${cjsEntries.map((entry, i) => `import ${ids[i]} = require('${entry}');`).join('\n')}\nexport const modules: Record<string, object> = { ${cjsEntries.map((entry, i) => `'${entry}': ${ids[i]}`).join(', ')} };\n`,
  );
  writeFileSync(
    join(project, 'tsconfig.json'),
    `${JSON.stringify({ compilerOptions: { strict: true, skipLibCheck: false, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023', 'esnext.disposable'], types: ['node'] }, files: ['esm.mts', 'cjs.cts'] }, null, 2)}\n`,
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    step(`${entries.length} entry points type-check under --strict without skipLibCheck (ESM and CJS), no optional peer installed`);
  } catch (error) {
    fail(`type-check of the installed tarballs:\n${error.stdout}${error.stderr}`);
  }

  const smoke = (lines) => lines.join('\n');
  // `/testing` entries are conformance suites that import the test runner (vitest): type-checked
  // above, loaded only by a user's tests.
  const runnable = entries.filter((entry) => !entry.endsWith('/testing'));
  const runnableCjs = cjsEntries.filter((entry) => !entry.endsWith('/testing'));
  writeFileSync(
    join(project, 'smoke.mjs'),
    smoke([
      `const entries = ${JSON.stringify(runnable)};`,
      'for (const entry of entries) {',
      '  const module = await import(entry);',
      "  if (Object.keys(module).length === 0) throw new Error(`${entry} exports nothing under ESM`);",
      '}',
      "console.log('esm ok');",
    ]),
  );
  writeFileSync(
    join(project, 'smoke.cjs'),
    smoke([
      `for (const entry of ${JSON.stringify(runnableCjs)}) {`,
      '  const module = require(entry);',
      "  if (Object.keys(module).length === 0) throw new Error(`${entry} exports nothing under CJS`);",
      '}',
      "console.log('cjs ok');",
    ]),
  );
  for (const file of ['smoke.mjs', 'smoke.cjs']) {
    try {
      run(process.execPath, [file], project);
    } catch (error) {
      fail(`node ${file}:\n${error.stdout}${error.stderr}`);
    }
  }
  // The command a user types after installing the gateway.
  try {
    const help = run(join(project, 'node_modules', '.bin', 'edge-gateway'), ['--help'], project);
    if (!help.includes('--config')) fail(`edge-gateway --help printed no usage:\n${help}`);
  } catch (error) {
    fail(`edge-gateway --help:\n${error.stdout}${error.stderr}`);
  }
  step(`every entry point loads under node ${process.version} (ESM, and CJS where offered); edge-gateway runs`);

  // Install weight of the routing core a proxy user installs.
  const sized = join(work, 'size');
  run('mkdir', ['-p', sized]);
  const needed = new Set(SIZE_SET);
  for (const name of SIZE_SET) {
    for (const dep of Object.keys(packages.find(({ manifest }) => manifest.name === name).manifest.dependencies ?? {})) {
      if (tarballs.has(dep)) needed.add(dep);
    }
  }
  newProject(sized, Object.fromEntries([...needed].map((name) => [name, `file:${tarballs.get(name)}`])));
  const bytes = directorySize(join(sized, 'node_modules'));
  const mb = (bytes / 1024 / 1024).toFixed(2);
  writeFileSync(
    join(sized, 'missing-peer.mjs'),
    smoke([
      "const geo = await import('@edgekit/geo');",
      'const locator = geo.createGeoLocator();',
      "try { locator.lookup('8.8.8.8'); throw new Error('geoip-lite lookup worked without geoip-lite installed'); }",
      "catch (error) { if (error.code !== 'EMISSINGPEER' || !error.message.includes('npm install geoip-lite')) throw error; }",
      'await locator.close();',
    ]),
  );
  try {
    run(process.execPath, ['missing-peer.mjs'], sized);
    step('without geoip-lite installed, its resolver throws EMISSINGPEER naming the package');
  } catch (error) {
    fail(`geoip-lite missing:\n${error.stdout}${error.stderr}`);
  }
  if (bytes > INSTALL_BUDGET_BYTES) fail(`${SIZE_SET.join(' + ')} install at ${mb} MB, over the ${INSTALL_BUDGET_BYTES / 1024 / 1024} MB budget`);
  else step(`${SIZE_SET.join(' + ')} install at ${mb} MB (budget ${INSTALL_BUDGET_BYTES / 1024 / 1024} MB)`);
} finally {
  if (process.env.EDGEKIT_KEEP_TARBALL_DIR === '1') step(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
