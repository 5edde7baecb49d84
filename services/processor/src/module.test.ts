import { describe, expect, it } from 'vitest';
import type { ModuleContext } from '@touchstream/runtime';
import { createProcessorModule, type ProcessorModuleDeps } from './module.ts';

const silent = { error() {}, warn() {}, info() {}, debug() {} };
// Nothing here connects: init only builds the processor; start() is what talks to Kafka.
const deps = (scoring?: ProcessorModuleDeps['scoring']): ProcessorModuleDeps => ({
  kafka: {} as ProcessorModuleDeps['kafka'],
  producer: {} as ProcessorModuleDeps['producer'],
  redis: { defineCommand() {}, status: 'ready' } as unknown as ProcessorModuleDeps['redis'],
  scoring,
  log: silent,
});
const ctx = {} as ModuleContext;

describe('createProcessorModule', () => {
  it('is the processor module, not ready before it consumes', async () => {
    const module = createProcessorModule(deps());
    expect(module).toMatchObject({ name: 'processor', deps: [] });
    const instance = await module.init(ctx);
    expect(instance.ready()).toEqual({ ready: false, reason: 'processor consumer not started' });
    await instance.stop();
  });

  it('fails at init on a meaningless scoring config', async () => {
    await expect(createProcessorModule(deps({ halfLifeMs: -1 })).init(ctx)).rejects.toThrow(/halfLifeMs/);
  });
});
