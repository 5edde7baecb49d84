// The image and compose files, checked statically (no Docker engine needed): the Dockerfile copies every workspace
// package the install of @touchstream/app reaches through the lockfile, installs runtime dependencies only, and
// every module the image runs imports only what its package declares as a runtime dependency (pnpm's strict
// node_modules would fail at run time otherwise); .dockerignore keeps host installs and state out of the build
// context; compose runs Redis with the persistence the README asks for (docs/architecture.md §6.6).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

/** Dockerfile instructions with continuation lines joined, comments dropped. */
function dockerInstructions(text: string): Array<{ op: string; args: string }> {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

type Importer = { dependencies?: Record<string, { version: string }>; devDependencies?: Record<string, { version: string }> };

/** Workspace importers (paths) reached from `start` through link: dependencies in the lockfile. */
function workspaceClosure(importers: Record<string, Importer>, start: string, withDev: boolean): Set<string> {
  const seen = new Set<string>();
  const visit = (importer: string) => {
    if (seen.has(importer)) return;
    seen.add(importer);
    const entry = importers[importer];
    if (!entry) throw new Error(`the lockfile has no importer ${importer}`);
    const deps = { ...entry.dependencies, ...(withDev ? entry.devDependencies : {}) };
    for (const { version } of Object.values(deps)) {
      if (version.startsWith('link:')) visit(path.posix.normalize(path.posix.join(importer, version.slice('link:'.length))));
    }
  };
  visit(start);
  return seen;
}

/** Files under a package, relative to it, without its node_modules (a host install is a symlink forest). */
function sourceFiles(dir: string, sub = ''): string[] {
  return readdirSync(path.join(repoRoot, dir, sub), { withFileTypes: true }).flatMap((e) => {
    if (e.name === 'node_modules') return [];
    const rel = sub ? `${sub}/${e.name}` : e.name;
    return e.isDirectory() ? sourceFiles(dir, rel) : [rel];
  });
}

const dockerfile = dockerInstructions(read('Dockerfile'));
const installs = dockerfile.filter((i) => i.op === 'RUN' && /\bpnpm install\b/.test(i.args));
const copied = dockerfile
  .filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
  .flatMap((i) => {
    const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
    return parts.slice(0, -1);
  });
const isCopied = (dir: string) => copied.some((c) => c === dir || dir.startsWith(`${c.replace(/\/$/, '')}/`));

describe('Dockerfile', () => {
  const lock = parse(read('pnpm-lock.yaml')) as { importers: Record<string, Importer> };

  it('installs the app once, frozen, with runtime dependencies only', () => {
    expect(installs).toHaveLength(1);
    const args = installs[0]!.args;
    expect(args).toMatch(/--frozen-lockfile/);
    expect(args).toMatch(/--filter @touchstream\/app\.\.\./);
    // Dev dependencies would link test kits from tools/, which the image leaves out.
    expect(args).toMatch(/--prod(?!=false)\b/);
  });

  it('copies every workspace package the lockfile links from the app, and the files it reads at run time', () => {
    const withDev = !/--prod(?!=false)\b/.test(installs[0]!.args);
    const closure = [...workspaceClosure(lock.importers, 'apps/touchstream', withDev)];
    expect(closure.filter((dir) => !isCopied(dir))).toEqual([]);
    for (const file of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml', 'tsconfig.base.json', 'schemas', 'rules']) expect(isCopied(file), file).toBe(true);
    // A frozen install fails when a patch pnpm-workspace.yaml names is missing from the context.
    const patches = Object.values((parse(read('pnpm-workspace.yaml')) as { patchedDependencies?: Record<string, string> }).patchedDependencies ?? {});
    for (const patch of patches) expect(isCopied(patch), patch).toBe(true);
    // Nothing from tools/ or test/ (developer tooling stays out of the image).
    expect(copied.filter((c) => c.startsWith('tools') || c.startsWith('test'))).toEqual([]);
  });

  it('runs only code whose imports are runtime dependencies of its own package', () => {
    const closure = [...workspaceClosure(lock.importers, 'apps/touchstream', false)];
    const builtins = new Set(builtinModules);
    const undeclared: string[] = [];
    for (const dir of closure) {
      const pkg = JSON.parse(read(`${dir}/package.json`)) as { name: string; dependencies?: Record<string, string> };
      const declared = new Set([pkg.name, ...Object.keys(pkg.dependencies ?? {})]);
      const files = sourceFiles(dir)
        .filter((f) => /\.(ts|mjs|js)$/.test(f) && !/\.test\.ts$/.test(f) && !/(^|\/)testing\.ts$/.test(f));
      for (const file of files) {
        const source = readFileSync(path.join(repoRoot, dir, file), 'utf8');
        // Static imports and exports (type-only ones vanish at run time), dynamic imports and require calls.
        const specifiers = [
          ...[...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'";]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
          ...[...source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
          ...[...source.matchAll(/(?:\bimport|\brequire\w*)\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
        ];
        for (const specifier of specifiers) {
          if (specifier.startsWith('.') || specifier.startsWith('node:') || specifier.startsWith('/')) continue;
          const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!;
          if (!builtins.has(name) && !declared.has(name)) undeclared.push(`${dir}/${file}: ${specifier}`);
        }
      }
    }
    expect(undeclared).toEqual([]);
  });

  it('starts the executable from a directory where tsx and its entry files resolve', () => {
    // Node resolves `--import tsx` from the working directory's node_modules: with runtime-only, filtered installs
    // that is the app's package (the root's tsx is a development dependency). Paths are relative to it as well.
    const workdirs = dockerfile.filter((i) => i.op === 'WORKDIR').map((i) => i.args);
    const appRoot = workdirs[0]!;
    const workdir = path.posix.relative(appRoot, workdirs.at(-1)!);
    const pkg = JSON.parse(read(path.posix.join(workdir, 'package.json'))) as { dependencies?: Record<string, string> };
    const entrypoint = JSON.parse(dockerfile.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    expect(entrypoint.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
    expect(pkg.dependencies?.tsx).toBeDefined();
    const files = entrypoint.filter((a) => a.endsWith('.ts'));
    expect(files).toContain('src/main.ts');
    for (const file of files) expect(existsSync(path.join(repoRoot, workdir, file)), file).toBe(true);
  });
});

describe('.dockerignore', () => {
  it('keeps host installs, engine state, secrets and VCS data out of the build context', () => {
    expect(existsSync(path.join(repoRoot, '.dockerignore'))).toBe(true);
    const patterns = read('.dockerignore')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    // Host node_modules (pnpm symlinks into a store that is not in the image) anywhere in the tree.
    expect(patterns).toContain('**/node_modules');
    for (const p of ['.git', '.tools', '.data', '.stack', 'tools/kafka/lib', '**/*.log']) expect(patterns, p).toContain(p);
    // Nothing the Dockerfile copies is ignored.
    for (const c of copied) expect(patterns, c).not.toContain(c);
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { command?: string[]; volumes?: string[] }>;
    volumes?: Record<string, unknown>;
  };

  it('runs Redis with append-only persistence fsynced on every write, on a named volume', () => {
    const redis = compose.services.redis!;
    const command = redis.command!.join(' ');
    expect(command).toMatch(/--appendonly yes/);
    // README "Architecture" and docs/architecture.md §6.6: offsets are committed after the Redis write.
    expect(command).toMatch(/--appendfsync always/);
    const dataVolume = redis.volumes?.find((v) => v.endsWith(':/data'));
    expect(dataVolume).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(dataVolume!.split(':')[0]);
  });

  it('keeps ClickHouse data on a named volume', () => {
    const volume = compose.services.clickhouse!.volumes?.find((v) => v.endsWith(':/var/lib/clickhouse'));
    expect(volume).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(volume!.split(':')[0]);
  });
});

describe('deploy/kubernetes', () => {
  it('tells the operator to run Redis with the same persistence', () => {
    const config = read('deploy/kubernetes/config.yaml');
    const redisNote = config.slice(0, config.indexOf('REDIS_URL:'));
    expect(redisNote).toMatch(/appendonly yes/);
    expect(redisNote).toMatch(/appendfsync always/);
  });
});
