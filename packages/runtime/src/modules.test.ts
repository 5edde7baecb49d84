import { describe, expect, it } from 'vitest';
import { ModuleRunner, startOrder, type Module } from './modules.ts';

const calls: string[] = [];
const mod = (name: string, deps: string[] = [], failStart = false): Module => ({
  name,
  deps,
  async init() {
    calls.push(`init ${name}`);
    let running = false;
    return {
      async start() {
        if (failStart) throw new Error('boom');
        running = true;
        calls.push(`start ${name}`);
      },
      async stop() {
        running = false;
        calls.push(`stop ${name}`);
      },
      ready: () => ({ ready: running }),
    };
  },
});

describe('modules', () => {
  it('orders modules after their dependencies and rejects cycles and unknown ones', () => {
    expect(startOrder([mod('query', ['redis', 'clickhouse']), mod('redis'), mod('clickhouse')]).map((m) => m.name)).toEqual(['redis', 'clickhouse', 'query']);
    expect(() => startOrder([mod('a', ['b']), mod('b', ['a'])])).toThrow(/cycle: a -> b -> a/);
    expect(() => startOrder([mod('a', ['kafka'])])).toThrow(/depends on kafka/);
  });

  it('starts in dependency order, stops in reverse, and reports readiness', async () => {
    calls.length = 0;
    const runner = new ModuleRunner([mod('ingest', ['kafka']), mod('kafka')]);
    expect(runner.readiness().ready).toBe(false);
    await runner.init({ http: {} as never, log: {} as never });
    await runner.start();
    expect(runner.readiness().ready).toBe(true);
    runner.beginDrain();
    expect(runner.readiness().ready).toBe(false);
    await runner.stop();
    expect(calls).toEqual(['init kafka', 'init ingest', 'start kafka', 'start ingest', 'stop ingest', 'stop kafka']);
    expect(runner.readiness().modules.kafka).toMatchObject({ state: 'stopped', ready: false });
  });

  it('names the module that failed to start', async () => {
    const runner = new ModuleRunner([mod('kafka'), mod('sink', ['kafka'], true)]);
    await runner.init({ http: {} as never, log: {} as never });
    await expect(runner.start()).rejects.toThrow(/module sink failed to start: boom/);
    expect(runner.readiness().modules.sink?.state).toBe('failed');
  });
});
