// Every ```ts block of the READMEs and guides, type-checked under --strict as a user's file would
// be: each block is its own module, importing the packages by their published names (resolved to
// the workspace sources through each package's `@edgekit/source` export condition). A block that
// uses names from its surroundings (an Express `app`, the user's own `fetchUser`) declares them in
// an HTML comment right above it, invisible on the rendered page, as rustdoc's hidden lines:
//   <!-- ts-context
//   declare const app: import('express').Express;
//   -->
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

function markdownFiles(): string[] {
  const files = ['README.md'];
  for (const group of ['packages', 'examples']) {
    for (const entry of readdirSync(join(root, group), { withFileTypes: true })) {
      if (entry.isDirectory()) files.push(join(group, entry.name, 'README.md'));
    }
  }
  for (const entry of readdirSync(join(root, 'docs', 'guides'))) if (entry.endsWith('.md')) files.push(join('docs', 'guides', entry));
  return files.filter((file) => {
    try {
      readFileSync(join(root, file));
      return true;
    } catch {
      return false;
    }
  });
}

interface Block {
  file: string;
  line: number;
  code: string;
  /** Declarations the block assumes, from an HTML comment right above it: `<!-- ts-context ... -->`. */
  context: string;
}

function tsBlocks(file: string): Block[] {
  const text = readFileSync(join(root, file), 'utf8');
  const blocks: Block[] = [];
  const fence = /(?:^<!-- ts-context\n([\s\S]*?)^-->\n)?^```ts\n([\s\S]*?)^```/gm;
  for (let match = fence.exec(text); match !== null; match = fence.exec(text)) {
    const start = match.index + (match[0].indexOf('```ts'));
    blocks.push({ file, line: text.slice(0, start).split('\n').length, code: match[2]!, context: match[1] ?? '' });
  }
  return blocks;
}

/** `@edgekit/<name><subpath>` → the source file its `@edgekit/source` condition names. */
function workspacePaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const group of ['packages', 'examples']) {
    for (const entry of readdirSync(join(root, group), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      let manifest: { name?: string; exports?: Record<string, unknown> };
      try {
        manifest = JSON.parse(readFileSync(join(root, group, entry.name, 'package.json'), 'utf8'));
      } catch {
        continue;
      }
      for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
        const source = typeof target === 'string' ? target : (target as Record<string, unknown>)['@edgekit/source'];
        if (typeof source !== 'string' || !source.endsWith('.ts')) continue;
        paths[`${manifest.name}${subpath.slice(1)}`] = [join(group, entry.name, source)];
      }
    }
  }
  // Everything else (ioredis, express, undici, ...) from pnpm's store of the workspace's dependencies.
  paths['*'] = ['node_modules/.pnpm/node_modules/@types/*', 'node_modules/.pnpm/node_modules/*', 'node_modules/*'];
  return paths;
}

const blocks = markdownFiles().flatMap(tsBlocks);
const cacheDir = join(root, 'node_modules', '.cache');
mkdirSync(cacheDir, { recursive: true });
const work = mkdtempSync(join(cacheDir, 'edgekit-docs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('code blocks in the READMEs and guides', () => {
  it(`finds the blocks (${blocks.length})`, () => {
    expect(blocks.length).toBeGreaterThan(20);
  });

  it('type-check under --strict, each block as its own module', { timeout: 300_000 }, async () => {
    const names = blocks.map((block, i) => `${String(i).padStart(3, '0')}-${block.file.replace(/[/.]/g, '_')}-L${block.line}.ts`);
    // The context goes after the block so that reported line numbers stay the block's own.
    blocks.forEach((block, i) => writeFileSync(join(work, names[i]!), `${block.code}\n${block.context}\nexport {};\n`));
    const tsconfig = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'ES2022',
        lib: ['ES2023', 'ESNext.Disposable', 'DOM'],
        module: 'Preserve',
        moduleResolution: 'Bundler',
        customConditions: ['@edgekit/source'],
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
        baseUrl: root,
        paths: workspacePaths(),
        skipLibCheck: true,
        esModuleInterop: true,
        allowImportingTsExtensions: true,
      },
      files: names,
    };
    writeFileSync(join(work, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    let output = '';
    try {
      // Asynchronous: tsc can take over a minute on a loaded machine, and a worker whose loop is
      // blocked that long cannot answer vitest's RPC (which times out after 60 s and fails the run).
      await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', work], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      output = `${(error as { stdout?: string }).stdout ?? ''}`;
    }
    // Name each error by the Markdown file and line it came from.
    const located = output.replace(/^\S*?(\d{3})-[^(\s]*?-L(\d+)\.ts\((\d+),(\d+)\)/gm, (_all, index: string, start: string, line: string) => {
      const block = blocks[Number(index)]!;
      return `${block.file}:${Number(start) + Number(line)}`;
    });
    expect(located, relative(root, work)).toBe('');
  });
});
