import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultScoringConfig, signalParamsFor } from './config.ts';
import { loadRulesFile, parseDuration, parseRules, RulesError, rulesVersionOf } from './rules.ts';

const defaultFile = new URL('../../../rules/default.yaml', import.meta.url);

function problemsOf(text: string): string[] {
  try {
    parseRules(text, 'rules.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(RulesError);
    return (err as RulesError).problems;
  }
  throw new Error('expected the rules to be rejected');
}

describe('parseDuration', () => {
  it('reads units and plain milliseconds', () => {
    expect(parseDuration('1500ms')).toBe(1500);
    expect(parseDuration('90s')).toBe(90_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration(250)).toBe(250);
    expect(parseDuration('24 hours')).toBeNull();
    expect(parseDuration(-1)).toBeNull();
    expect(parseDuration(true)).toBeNull();
  });
});

describe('the shipped rules file', () => {
  it('is the built-in defaults, versioned', () => {
    const text = readFileSync(defaultFile, 'utf8');
    const config = parseRules(text, 'rules/default.yaml');
    expect(config).toEqual({ ...defaultScoringConfig, rulesVersion: rulesVersionOf(text, 'default-1') });
    expect(config.rulesVersion).toMatch(/^default-1\+[0-9a-f]{8}$/);
  });
});

describe('parseRules', () => {
  it('lays the file over the defaults, with overrides per channel and journey (the journey wins)', () => {
    const config = parseRules(
      [
        'score: { half_life: 24h, levels: { critical: 12 }, cooldown: 0 }',
        'channels: { assisted: [phone, video_call] }',
        'signals:',
        '  complaint: { weight: 5 }',
        '  sla_breach: { wait: { store: 5m } }',
        'overrides:',
        '  channels:',
        '    phone: { complaint: { weight: 6 }, sla_breach: { wait: { phone: 3m } } }',
        '  journeys:',
        '    mortgage: { complaint: { weight: 7, enabled: false }, journey_not_completed: { expected_duration: 14d } }',
      ].join('\n'),
      'rules.yaml',
    );
    expect(config.rulesVersion).toMatch(/^[0-9a-f]{8}$/);
    expect(config.halfLifeMs).toBe(24 * 3600_000);
    expect(config.levelThresholds).toEqual({ watch: 3, at_risk: 6, critical: 12 });
    expect(config.alertCooldownMs).toBe(0);
    expect(config.assistedChannels).toEqual(['phone', 'video_call']);
    expect(config.selfServiceChannels).toEqual(defaultScoringConfig.selfServiceChannels);
    expect(config.signals.sla_breach.wait).toEqual({ phone: 120_000, chat: 60_000, store: 300_000 });

    const web = signalParamsFor(config, 'web', null);
    expect(web.complaint).toEqual({ enabled: true, weight: 5, reasons: ['complaint', 'formal_complaint', 'cancellation_threat'] });
    const phone = signalParamsFor(config, 'phone', 'billing');
    expect(phone.complaint.weight).toBe(6);
    expect(phone.sla_breach.wait).toEqual({ phone: 180_000, chat: 60_000, store: 300_000 });
    const phoneMortgage = signalParamsFor(config, 'phone', 'mortgage');
    expect(phoneMortgage.complaint).toMatchObject({ enabled: false, weight: 7 });
    expect(phoneMortgage.journey_not_completed.expected_duration).toBe(14 * 86_400_000);
    expect(signalParamsFor(config, 'web', 'billing').journey_not_completed.expected_duration).toBe(48 * 3600_000);
  });

  it('sla_breach.source: channel by default, catalogue when the file says so (per journey too); nothing else', () => {
    expect(parseRules('version: 1\n', 'r.yaml').signals.sla_breach.source).toBe('channel');
    const config = parseRules('signals: { sla_breach: { source: catalogue } }\noverrides: { journeys: { vip: { sla_breach: { source: channel } } } }\n', 'r.yaml');
    expect(config.signals.sla_breach.source).toBe('catalogue');
    expect(signalParamsFor(config, 'phone', 'vip').sla_breach.source).toBe('channel');
    expect(() => parseRules('signals: { sla_breach: { source: touchpoint } }\n', 'r.yaml')).toThrow(/signals\.sla_breach\.source: /);
  });

  it('versions by content: same text, same version; any change, another', () => {
    expect(rulesVersionOf('a: 1', 'v1')).toBe(rulesVersionOf('a: 1', 'v1'));
    expect(rulesVersionOf('a: 1', 'v1')).not.toBe(rulesVersionOf('a: 2', 'v1'));
    expect(parseRules('version: 7\n', 'r.yaml').rulesVersion).toMatch(/^7\+[0-9a-f]{8}$/);
  });

  it('accepts JSON', () => {
    expect(parseRules('{"signals": {"escalation": {"weight": 0.5}}}', 'rules.json').signals.escalation.weight).toBe(0.5);
  });

  it('reports every problem at once, each with its path in the document (in schema order)', () => {
    expect(
      problemsOf(
        [
          'score: { half_life: 3 days, exit_ratio: 1.5 }',
          'signals:',
          '  channel_hopping: { window: 24h, min_channels: 1, weigth: 2 }',
          '  complaint: { reasons: [] }',
          '  sentiment_decline: { weight: -1 }',
          '  made_up_signal: { weight: 1 }',
          'overrides:',
          '  journeys:',
          '    mortgage: { journey_not_completed: { expected_duration: soon } }',
        ].join('\n'),
      ),
    ).toEqual([
      'score.half_life: expected a duration like 90s, 15m, 24h, 7d or a number of milliseconds (> 0), got "3 days"',
      'score.exit_ratio: must be ≤ 1',
      'signals.channel_hopping.min_channels: must be ≥ 2',
      'signals.channel_hopping: Unrecognized key: "weigth"',
      'signals.sentiment_decline.weight: a weight must be ≥ 0',
      'signals.complaint.reasons: list at least one name',
      'signals: Unrecognized key: "made_up_signal"',
      'overrides.journeys.mortgage.journey_not_completed.expected_duration: expected a duration like 90s, 15m, 24h, 7d or a number of milliseconds (> 0), got "soon"',
    ]);
  });

  it('rejects levels that do not increase', () => {
    expect(problemsOf('score: { levels: { watch: 5, at_risk: 4 } }')).toEqual([
      'score.levels: must increase: watch (5) < at_risk (4) < critical (10)',
    ]);
  });

  it('rejects YAML that does not parse, and duplicate keys', () => {
    const [problem] = problemsOf('signals:\n  complaint: { weight: 1\n');
    expect(problem).toMatch(/^not valid YAML: /);
    expect(problemsOf('version: a\nversion: b\n')).toEqual(['not valid YAML: Map keys must be unique at line 2, column 1:']);
  });

  it('names the file in the error message', async () => {
    await expect(loadRulesFile('/nonexistent/rules.yaml')).rejects.toThrow(
      'invalid rules file /nonexistent/rules.yaml:\n  - cannot read it (ENOENT): check RULES_FILE',
    );
    expect(() => parseRules('score: { exit_ratio: 0 }', 'conf/rules.yaml')).toThrow('invalid rules file conf/rules.yaml:\n  - score.exit_ratio: must be > 0');
  });
});

describe('anomalies (KPI deviation alerts, §21)', () => {
  it('are off by default and read from the rules file over their defaults; metrics replace the default list', () => {
    expect(parseRules('{}', 'rules.yaml').anomalies.enabled).toBe(false);
    const config = parseRules(
      ['anomalies:', '  enabled: true', '  dimensions: [channel]', '  windows: [2m, 1m]', '  min_history: 2h', '  cooldown: 10m', '  metrics:', '    wait_p90: { threshold: 6 }', '    nps: ~'].join('\n'),
      'rules.yaml',
    ).anomalies;
    expect(config).toMatchObject({ enabled: true, dimensions: ['channel'], windowsMinutes: [1, 2], minHistoryMinutes: 120, cooldownMs: 600_000, latenessMs: 5000, timezone: 'UTC' });
    expect(config.metrics).toEqual({
      wait_p90: { threshold: 6, minChange: 0.3, direction: 'up', minCount: 20 },
      nps: { threshold: 4.5, minChange: 20, direction: 'down', minCount: 20 },
    });
  });

  it('reports every problem with its path', () => {
    expect(problemsOf(['anomalies:', '  dimensions: [region]', '  windows: [90s]', '  metrics: { churn: {} }', '  timezone: Europe/Atlantis'].join('\n'))).toEqual([
      expect.stringMatching(/^anomalies\.dimensions\.0: /),
      expect.stringMatching(/^anomalies\.metrics\.churn: |^anomalies\.metrics: /),
      expect.stringMatching(/^anomalies\.windows\.0: must be whole minutes/),
      'anomalies.timezone: must be an IANA time zone, e.g. Europe/Berlin or UTC',
    ]);
  });

  it('take the hour of the week in an IANA time zone', () => {
    expect(parseRules(['anomalies:', '  timezone: Europe/Berlin'].join('\n'), 'rules.yaml').anomalies.timezone).toBe('Europe/Berlin');
  });
});

describe('churn (churn-risk score, §22)', () => {
  it('defaults to reason cancellation within 30 days, bands 0.25 / 0.5, alerting on high', () => {
    expect(parseRules('{}', 'rules.yaml').churn).toEqual({
      enabled: true,
      outcome: { reasons: ['cancellation'], touchpoints: [] },
      horizonMs: 30 * 86_400_000,
      bands: { medium: 0.25, high: 0.5 },
      alertBand: 'high',
    });
  });

  it('reads the section', () => {
    const churn = parseRules(
      ['churn:', '  outcome: { touchpoints: [contract_cancelled] }', '  horizon: 14d', '  bands: { high: 0.7 }', '  alert: medium'].join('\n'),
      'rules.yaml',
    ).churn;
    expect(churn).toMatchObject({ outcome: { reasons: [], touchpoints: ['contract_cancelled'] }, horizonMs: 14 * 86_400_000, bands: { medium: 0.25, high: 0.7 }, alertBand: 'medium' });
  });

  it('reports every problem of the section', () => {
    expect(problemsOf(['churn:', '  outcome: { reasons: [] }', '  horizon: soon', '  alert: critical', '  bands: { medium: 1.5 }'].join('\n'))).toEqual(expect.arrayContaining([
      expect.stringMatching(/^churn\.outcome: list at least one reason or touchpoint/),
      expect.stringMatching(/^churn\.horizon: expected a duration/),
      expect.stringMatching(/^churn\.alert: /),
      expect.stringMatching(/^churn\.bands\.medium: must be < 1/),
    ]));
    expect(problemsOf(['churn:', '  bands: { medium: 0.6, high: 0.5 }'].join('\n'))).toEqual([expect.stringMatching(/^churn\.bands: must increase/)]);
  });

  it('the shipped rules file says the defaults', () => {
    expect(parseRules(readFileSync(defaultFile, 'utf8'), 'default.yaml').churn).toEqual(defaultScoringConfig.churn);
  });
});
