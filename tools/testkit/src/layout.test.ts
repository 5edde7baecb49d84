// The repository's layout, checked: the import rules of .dependency-cruiser.cjs (no service imports another,
// packages never import services, nothing that ships imports tools, no cycles), and the README's folder table
// naming exactly the folders that exist.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { cruise, type IReporterOutput } from 'dependency-cruiser';

const repoRoot = path.resolve(import.meta.dirname, '../../..');

describe('repository layout', () => {
  it('follows the import rules (dependency-cruiser)', async () => {
    const config = createRequire(import.meta.url)(path.join(repoRoot, '.dependency-cruiser.cjs'));
    const cwd = process.cwd();
    process.chdir(repoRoot);
    let result: IReporterOutput;
    try {
      result = await cruise(['apps', 'services', 'packages', 'tools', 'test'], { ruleSet: config, validate: true, ...config.options });
    } finally {
      process.chdir(cwd);
    }
    const output = result.output as { summary: { violations: Array<{ rule: { name: string }; from: string; to: string; cycle?: Array<{ name: string }> }>; totalCruised: number } };
    const violations = output.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.cycle?.map((c) => c.name).join(' → ') ?? v.to}`);
    expect(output.summary.totalCruised).toBeGreaterThan(100);
    expect(violations).toEqual([]);
  }, 60_000);

  it("lists every workspace folder in the README's folder table, and only folders that exist", () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('| folder | what |'));
    const listed = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]!.replace(/\/$/, ''));
    const workspace = ['apps', 'services', 'packages', 'tools'].flatMap((dir) =>
      readdirSync(path.join(repoRoot, dir), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${dir}/${d.name}`),
    );
    expect(workspace.filter((dir) => !listed.includes(dir))).toEqual([]);
    expect(listed.filter((dir) => !existsSync(path.join(repoRoot, dir)))).toEqual([]);
  });
});
