import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { parseWebhooks } from './webhooks-config.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'webhooks-'));
const file = (name: string, text: string) => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const secret = 'x'.repeat(32);

describe('webhook configuration', () => {
  it('reads YAML with defaults, per-destination overrides and filters', () => {
    const p = file('ok.yaml', `
defaults:
  retry: { base_ms: 200, cap_ms: 5000 }
  timeout_ms: 3000
destinations:
  - name: crm
    url: https://crm.example.com/hooks
    secret: ${secret}
    min_level: at_risk
    journeys: [billing_support]
  - name: pager
    url: http://127.0.0.1:9999/page
    secret: ${secret}
    levels: [critical]
    channels: [phone, chat]
    retry: { max_attempts: 3 }
`);
    const { problems, settings } = parseWebhooks({ WEBHOOKS_FILE: p });
    expect(problems).toEqual([]);
    expect(settings!.timeoutMs).toBe(3000);
    expect(settings!.destinations[0]).toMatchObject({
      name: 'crm',
      retry: { baseMs: 200, capMs: 5000, maxAttempts: 8 },
      filter: { levels: ['at_risk', 'critical'], journeys: ['billing_support'], channels: null },
    });
    expect(settings!.destinations[1]).toMatchObject({
      retry: { baseMs: 200, capMs: 5000, maxAttempts: 3 },
      filter: { levels: ['critical'], journeys: null, channels: ['phone', 'chat'] },
    });
  });

  it('takes an inline JSON array as the destinations', () => {
    const { problems, settings } = parseWebhooks({ WEBHOOKS: JSON.stringify([{ name: 'a', url: 'http://h/x', secret }]) });
    expect(problems).toEqual([]);
    expect(settings!.destinations[0]!.filter).toEqual({ levels: null, journeys: null, channels: null });
  });

  it('names every problem with its place in the document, all at once, through loadConfig', () => {
    const p = file('bad.yaml', `
destinations:
  - name: crm
    url: ftp://crm.example.com
    secret: short
    min_level: severe
  - name: crm
    url: https://ok.example.com
    secret: ${secret}
    levels: [watch]
    min_level: watch
    colour: red
`);
    let problems: string[] = [];
    try {
      loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', REDIS_URL: 'redis://x:1', TOUCHSTREAM_TARGET: 'notifier', WEBHOOKS_FILE: p });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      problems = (err as ConfigError).problems;
    }
    const text = problems.join('\n');
    expect(text).toContain(`WEBHOOKS_FILE: ${p}: destinations.0.url: must be an http:// or https:// URL`);
    expect(text).toMatch(/destinations\.0\.secret: must be at least 16 characters/);
    expect(text).toMatch(/destinations\.0\.min_level/);
    expect(text).toMatch(/destinations\.1.*colour/);
    // The duplicate name and the min_level/levels clash need a structurally valid document first.
    const second = parseWebhooks({ WEBHOOKS: JSON.stringify([{ name: 'a', url: 'http://h/x', secret, min_level: 'watch', levels: ['watch'] }, { name: 'a', url: 'http://h/y', secret }]) });
    expect(second.problems.map((x) => x.message)).toEqual([
      'destinations.0.levels: set min_level or levels, not both',
      'destinations.1.name: "a" is used twice; names must be unique',
    ]);
  });

  it('says when the file cannot be read or parsed, or both variables are set', () => {
    expect(parseWebhooks({ WEBHOOKS_FILE: path.join(dir, 'missing.yaml') }).problems[0]!.message).toMatch(/cannot be read: ENOENT/);
    expect(parseWebhooks({ WEBHOOKS: '{not json' }).problems[0]!.message).toMatch(/cannot be read/);
    expect(parseWebhooks({ WEBHOOKS: '[]', WEBHOOKS_FILE: 'x' }).problems[0]!.message).toMatch(/not both/);
  });

  it('runs the notifier without destinations when none are configured', () => {
    expect(parseWebhooks({})).toMatchObject({ problems: [], settings: { destinations: [] } });
  });
});
