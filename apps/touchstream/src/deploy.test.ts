// The deployment descriptions (deploy/kubernetes, docker-compose.yml) must start: every variable they set is
// one the configuration schema knows (or a standard OTEL_* one), and each target's resulting configuration
// validates. Catches a renamed variable or a target that lost a required setting before anyone deploys.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { configShape, loadConfig, TARGETS } from './config.ts';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const k8sDir = path.join(repoRoot, 'deploy/kubernetes');

type Doc = { kind?: string; metadata?: { name?: string }; data?: Record<string, string>; stringData?: Record<string, string>; spec?: any };

function k8sDocs(): Doc[] {
  return readdirSync(k8sDir)
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(k8sDir, f), 'utf8')).map((d) => d.toJS() as Doc))
    .filter(Boolean);
}

const knownVariable = (name: string) => name in configShape.shape || name.startsWith('OTEL_');

describe('deploy/kubernetes', () => {
  const docs = k8sDocs();
  const byKind = (kind: string) => docs.filter((d) => d.kind === kind);
  const configMap = byKind('ConfigMap').find((d) => d.metadata?.name === 'touchstream-config')!;
  const secret = byKind('Secret').find((d) => d.metadata?.name === 'touchstream-keys')!;
  const deployments = byKind('Deployment');

  it('lists every manifest in kustomization.yaml', () => {
    const kustomization = parse(readFileSync(path.join(k8sDir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    const files = readdirSync(k8sDir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
  });

  it('sets only variables the configuration knows', () => {
    const names = [...Object.keys(configMap.data ?? {}), ...Object.keys(secret.stringData ?? {})];
    for (const d of deployments) for (const c of d.spec.template.spec.containers) for (const e of c.env ?? []) names.push(e.name);
    expect(names.filter((n) => !knownVariable(n))).toEqual([]);
  });

  it('has one deployment per target, each with a configuration that validates', () => {
    const targets = deployments.map((d) => {
      const container = d.spec.template.spec.containers[0];
      const target = container.args[container.args.indexOf('--target') + 1];
      const env: Record<string, string> = { ...configMap.data, ...secret.stringData, TOUCHSTREAM_TARGET: target };
      for (const e of container.env ?? []) env[e.name] = e.value;
      expect(() => loadConfig(env), `${d.metadata?.name}`).not.toThrow();
      return target;
    });
    expect(targets.sort()).toEqual([...TARGETS].sort());
  });

  it('probes /readyz and /healthz, and gives the drain time to finish before the kill', () => {
    const shutdownSeconds = Number(configMap.data!.SHUTDOWN_TIMEOUT_MS) / 1000;
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      const container = pod.containers[0];
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      const preStop = container.lifecycle?.preStop?.sleep?.seconds ?? 0;
      expect(pod.terminationGracePeriodSeconds, d.metadata?.name).toBeGreaterThan(shutdownSeconds + preStop);
    }
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { build?: string; environment?: Record<string, string>; command?: string[] }>;
  };
  const touchstreamServices = Object.entries(compose.services).filter(([, s]) => s.build);

  it('runs every target, with known variables and a configuration that validates', () => {
    const targets: string[] = [];
    for (const [name, s] of touchstreamServices) {
      const env = s.environment ?? {};
      expect(Object.keys(env).filter((n) => !knownVariable(n)), name).toEqual([]);
      const target = s.command?.[s.command.indexOf('--target') + 1] ?? 'all';
      expect(() => loadConfig({ ...env, TOUCHSTREAM_TARGET: target }), name).not.toThrow();
      targets.push(...target.split(','));
    }
    expect(targets.sort()).toEqual([...TARGETS].sort());
  });
});
