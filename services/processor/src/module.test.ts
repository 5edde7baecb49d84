import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ModuleContext } from '@touchstream/runtime';
import { createProcessorModule, type ProcessorModuleDeps } from './module.ts';

const silent = { error() {}, warn() {}, info() {}, debug() {} };
// Nothing here connects: init only builds the processor; start() is what talks to Kafka.
const deps = (scoring?: ProcessorModuleDeps['scoring'], rulesFile?: string, touchpointsFile?: string): ProcessorModuleDeps => ({
  kafka: {} as ProcessorModuleDeps['kafka'],
  producer: {} as ProcessorModuleDeps['producer'],
  redis: { defineCommand() {}, status: 'ready' } as unknown as ProcessorModuleDeps['redis'],
  scoring,
  rulesFile,
  touchpointsFile,
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

  it('fails at init on an invalid rules file, naming the file and the path inside it', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'touchstream-rules-')), 'rules.yaml');
    writeFileSync(file, 'score: { levels: { watch: 0 } }\nsignals: { escalation: { outcomes: [shouted] } }\n');
    await expect(createProcessorModule(deps(undefined, file)).init(ctx)).rejects.toThrow(
      `invalid rules file ${file}:\n` +
        '  - score.levels.watch: must be > 0\n' +
        '  - signals.escalation.outcomes.0: Invalid option: expected one of "started"|"completed"|"failed"|"abandoned"|"escalated"|"transferred"|"resolved"|"unresolved"',
    );
  });

  it('loads a valid rules file at init; reloadRules without a file says so', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'touchstream-rules-')), 'rules.yaml');
    writeFileSync(file, 'version: test\n');
    const module = createProcessorModule(deps(undefined, file));
    await module.init(ctx);
    expect(await module.reloadRules()).toMatchObject({ ok: true, changed: false, version: expect.stringMatching(/^test\+/) });
    expect(await createProcessorModule(deps()).reloadRules()).toEqual({ ok: false, error: 'no rules file configured (RULES_FILE): nothing to reload' });
  });

  it('takes the catalogue\'s reaction-time targets at init and again on reloadRules; a bad catalogue fails the init', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'touchstream-catalogue-'));
    const file = path.join(dir, 'touchpoints.yaml');
    const entry = (target: string) => `touchpoints:\n  call: { channel: phone, stage: support, owner: Care, layer: front_stage, description: d, reaction_time: ${target} }\n  page: { channel: web, stage: purchase, owner: Web, layer: front_stage, description: d }\n`;
    writeFileSync(file, entry('5m'));
    const module = createProcessorModule(deps(undefined, undefined, file));
    await module.init(ctx);
    expect(module.configInForce()?.touchpointReactionTimes).toEqual({ call: 300_000 });
    writeFileSync(file, entry('90s'));
    await module.reloadRules();
    expect(module.configInForce()?.touchpointReactionTimes).toEqual({ call: 90_000 });
    writeFileSync(file, 'touchpoints:\n  x: { channel: web }\n');
    await module.reloadRules();
    expect(module.configInForce()?.touchpointReactionTimes).toEqual({ call: 90_000 });
    await expect(createProcessorModule(deps(undefined, undefined, file)).init(ctx)).rejects.toThrow(/invalid touchpoint catalogue/);
  });
});
