// Webhook destinations for the notifier: a YAML or JSON document in WEBHOOKS_FILE, or the same document
// (JSON) inline in WEBHOOKS. Validated at start with the rest of the configuration; each problem names the
// destination and field.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { alertLevels as levels, alertLevelsFrom } from '@touchstream/contracts';
import { defaultNotifierSettings, defaultRetryPolicy, type NotifierSettings, type RetryPolicy } from '@touchstream/notifier';

const positiveInt = z.number().int().positive();

const retrySchema = z.strictObject({
  base_ms: positiveInt.optional(),
  cap_ms: positiveInt.optional(),
  max_attempts: positiveInt.max(100).optional(),
});

const destinationSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"'),
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    secret: z.string().min(16, 'must be at least 16 characters (e.g. the output of `openssl rand -hex 32`)'),
    min_level: z.enum(levels).optional(),
    levels: z.array(z.enum(levels)).min(1).optional(),
    journeys: z.array(z.string().min(1)).min(1).optional(),
    channels: z.array(z.string().min(1)).min(1).optional(),
    retry: retrySchema.optional(),
  })
  .refine((d) => !(d.min_level && d.levels), { message: 'set min_level or levels, not both', path: ['levels'] });

const documentSchema = z
  .strictObject({
    defaults: z
      .strictObject({
        retry: retrySchema.optional(),
        timeout_ms: positiveInt.optional(),
        delivered_ttl_hours: z.number().positive().optional(),
        concurrency: positiveInt.max(256).optional(),
      })
      .optional(),
    destinations: z.array(destinationSchema),
  })
  .superRefine((doc, ctx) => {
    const seen = new Set<string>();
    doc.destinations.forEach((d, i) => {
      if (seen.has(d.name)) ctx.addIssue({ code: 'custom', path: ['destinations', i, 'name'], message: `"${d.name}" is used twice; names must be unique` });
      seen.add(d.name);
    });
  });

export type WebhooksDocument = z.infer<typeof documentSchema>;

export interface WebhooksSource {
  WEBHOOKS_FILE?: string;
  WEBHOOKS?: string;
}

export interface WebhooksProblem {
  /** The variable: WEBHOOKS_FILE or WEBHOOKS. */
  variable: 'WEBHOOKS_FILE' | 'WEBHOOKS';
  /** Where in the document and what is wrong, e.g. `hooks.yaml: destinations.0.url: must be an http:// or https:// URL`. */
  message: string;
}

/** Problems (empty when fine) and, when fine, the settings. A bare array is taken as the destinations. */
export function parseWebhooks(source: WebhooksSource): { problems: WebhooksProblem[]; settings?: NotifierSettings } {
  const variable = source.WEBHOOKS_FILE ? 'WEBHOOKS_FILE' : 'WEBHOOKS';
  if (source.WEBHOOKS_FILE && source.WEBHOOKS) {
    return { problems: [{ variable, message: 'set either WEBHOOKS_FILE or WEBHOOKS, not both' }] };
  }
  const where = source.WEBHOOKS_FILE ? `${source.WEBHOOKS_FILE}: ` : '';
  let raw: unknown;
  try {
    if (source.WEBHOOKS_FILE) {
      const text = readFileSync(source.WEBHOOKS_FILE, 'utf8');
      // YAML is a superset of JSON: one parser reads both.
      raw = parseYaml(text);
    } else if (source.WEBHOOKS) {
      raw = JSON.parse(source.WEBHOOKS);
    } else {
      return { problems: [], settings: { ...defaultNotifierSettings, destinations: [] } };
    }
  } catch (err) {
    return { problems: [{ variable, message: `${where}cannot be read: ${(err as Error).message}` }] };
  }
  if (Array.isArray(raw)) raw = { destinations: raw };
  const parsed = documentSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    return { problems: parsed.error.issues.map((i) => ({ variable, message: `${where}${i.path.join('.') || 'document'}: ${i.message}` })) };
  }
  return { problems: [], settings: settingsOf(parsed.data) };
}

function retryOf(...layers: Array<z.infer<typeof retrySchema> | undefined>): RetryPolicy {
  const policy = { ...defaultRetryPolicy };
  for (const l of layers) {
    if (l?.base_ms !== undefined) policy.baseMs = l.base_ms;
    if (l?.cap_ms !== undefined) policy.capMs = l.cap_ms;
    if (l?.max_attempts !== undefined) policy.maxAttempts = l.max_attempts;
  }
  return policy;
}

export function settingsOf(doc: WebhooksDocument): NotifierSettings {
  const d = doc.defaults ?? {};
  return {
    timeoutMs: d.timeout_ms ?? defaultNotifierSettings.timeoutMs,
    deliveredTtlMs: d.delivered_ttl_hours !== undefined ? Math.round(d.delivered_ttl_hours * 3600 * 1000) : defaultNotifierSettings.deliveredTtlMs,
    concurrency: d.concurrency ?? defaultNotifierSettings.concurrency,
    destinations: doc.destinations.map((dest) => ({
      name: dest.name,
      url: dest.url,
      secret: dest.secret,
      retry: retryOf(d.retry, dest.retry),
      filter: {
        levels: dest.levels ?? (dest.min_level ? alertLevelsFrom(dest.min_level) : null),
        journeys: dest.journeys ?? null,
        channels: dest.channels ?? null,
      },
    })),
  };
}
