// The Prometheus and Grafana wiring of docker-compose.yml (docs/architecture.md §17), checked statically: Prometheus
// scrapes every touchstream service of the compose file, the dashboards only use the provisioned data sources, and
// the files compose mounts exist. (The queries themselves are checked against the live schema and a real scrape
// by test/metrics.test.ts.)
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const read = (file: string) => parse(readFileSync(path.join(repoRoot, file), 'utf8'), { merge: true });

interface ComposeService { build?: string; image?: string; volumes?: string[]; environment?: Record<string, string> }
const compose = read('docker-compose.yml') as { services: Record<string, ComposeService> };

describe('Prometheus and Grafana in docker-compose.yml', () => {
  it('Prometheus scrapes /metrics of every touchstream service, on the port the image listens on', () => {
    const config = read('deploy/prometheus/prometheus.yml') as { scrape_configs: Array<{ metrics_path?: string; static_configs: Array<{ targets: string[] }> }> };
    const job = config.scrape_configs[0]!;
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    const targets = job.static_configs.flatMap((c) => c.targets).sort();
    const services = Object.entries(compose.services).filter(([, s]) => s.build).map(([name]) => `${name}:8080`).sort();
    expect(targets).toEqual(services);
    expect(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8')).toMatch(/HTTP_PORT=8080/);
  });

  it('mounts files that exist, and the dashboards use only the provisioned data sources', () => {
    for (const name of ['prometheus', 'grafana']) {
      for (const volume of compose.services[name]!.volumes ?? []) expect(existsSync(path.join(repoRoot, volume.split(':')[0]!)), volume).toBe(true);
    }
    expect(compose.services.grafana!.environment?.GF_INSTALL_PLUGINS).toContain('grafana-clickhouse-datasource');
    const provisioned = (read('deploy/grafana/provisioning/datasources/touchstream.yml') as { datasources: Array<{ uid: string; type: string }> }).datasources;
    const dir = path.join(repoRoot, 'deploy/grafana/dashboards');
    const used = new Set<string>();
    for (const file of readdirSync(dir)) {
      const dashboard = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { uid: string; panels: Array<{ datasource: { uid: string; type: string }; targets: Array<{ datasource: { uid: string; type: string } }> }> };
      expect(dashboard.uid).toMatch(/^touchstream-/);
      for (const p of dashboard.panels) for (const ds of [p.datasource, ...p.targets.map((t) => t.datasource)]) used.add(`${ds.type}/${ds.uid}`);
    }
    expect([...used].sort()).toEqual(provisioned.map((d) => `${d.type}/${d.uid}`).sort());
  });
});
