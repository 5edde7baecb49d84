// Dead letters are usable: list and inspect what ingest rejected (touchpoints.invalid.v1) or consumers could
// not process (deadletters.v1), export them to an NDJSON file to fix by hand, and replay the fixed file
// through ingest — so a replayed event is validated exactly like a new one.
import { readFileSync } from 'node:fs';
import type { Kafka } from 'kafkajs';
import { codecs, pseudonymousCustomerId, type DeadLetter } from '@touchstream/contracts';
import { ErasedCustomers, followErasures } from '@touchstream/kafka';

/**
 * What the dead-letter tools need to skip erased customers (docs/architecture.md §14): the deployment's PRIVACY_SECRET
 * and whether ingest pseudonymises (a dead letter of ingest holds the customer_id as sent).
 */
export interface ErasureCheck {
  erased: ErasedCustomers;
  /** With pseudonymisation: the stored customer_id of the one a client sent. */
  storedCustomerId?: (rawCustomerId: string) => string;
}

/** Reads erasures.v1 whole into a fresh erased set (the dead-letter tools run once, they do not follow it). */
export async function loadErasures(kafka: Kafka, secret: string, pseudonymize: boolean, policy: 'refuse' | 'fresh' = 'refuse'): Promise<ErasureCheck> {
  const erased = new ErasedCustomers(secret, { forever: policy === 'refuse' });
  const follower = await followErasures({ kafka, erased, groupPrefix: `touchstream-deadletters-${process.pid}` });
  await follower.stop();
  return { erased, storedCustomerId: pseudonymize ? (raw) => pseudonymousCustomerId(secret, raw) : undefined };
}

/** The customer ids a dead letter may be about: its Kafka key (consumers key dead letters by customer) and its payload's customer_id. */
function customerIdsOf(check: ErasureCheck, key: string | null, payload: unknown): string[] {
  const ids: string[] = key ? [key] : [];
  const raw = payload && typeof payload === 'object' ? (payload as { customer_id?: unknown }).customer_id : undefined;
  if (typeof raw === 'string' && raw) {
    ids.push(raw);
    if (check.storedCustomerId) ids.push(check.storedCustomerId(raw));
  }
  return ids;
}

/** Whether a dead letter received at `receivedAtMs` belongs to a customer erased since. */
export function isErasedDeadLetter(check: ErasureCheck, key: string | null, payload: unknown, receivedAtMs: number): boolean {
  return customerIdsOf(check, key, payload).some((id) => check.erased.covers(id, receivedAtMs));
}

function payloadJson(buffer: Buffer): unknown {
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch {
    return undefined;
  }
}

export interface StoredDeadLetter {
  /** Where it is in Kafka: `<partition>:<offset>`. */
  position: string;
  deadLetter: DeadLetter;
}

export interface ReadDeadLettersOptions {
  kafka: Kafka;
  topic: string;
  /** Keep only these (by source, stage or a substring of the reasons). */
  filter?: { source?: string; stage?: string; reason?: string };
  limit?: number;
  onProgress?: (read: number, total: number) => void;
  /** Skips (and counts in `skippedErased`) dead letters of customers erased since they were written. */
  erasures?: ErasureCheck;
  skipped?: { erased: number };
}

/** Reads a dead-letter topic from the beginning up to its current end, without joining a consumer group for good. */
export async function readDeadLetters(opts: ReadDeadLettersOptions): Promise<StoredDeadLetter[]> {
  const admin = opts.kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(opts.topic).finally(() => admin.disconnect());
  const pending = new Map(ends.filter((e) => BigInt(e.offset) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.offset)]));
  const total = ends.reduce((n, e) => n + Number(BigInt(e.offset) - BigInt(e.low)), 0);
  const found: StoredDeadLetter[] = [];
  if (pending.size === 0) return found;

  // A throwaway group that never commits: reading does not move anyone's offsets.
  const consumer = opts.kafka.consumer({ groupId: `touchstream-deadletters-${process.pid}-${Date.now()}` });
  let read = 0;
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: opts.topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          read++;
          opts.onProgress?.(read, total);
          let deadLetter: DeadLetter | undefined;
          try {
            deadLetter = codecs.deadLetter.decode(message.value ?? Buffer.alloc(0));
          } catch {
            deadLetter = undefined; // not a dead letter record: nothing to show or replay
          }
          const f = opts.filter ?? {};
          const erased =
            deadLetter !== undefined &&
            opts.erasures !== undefined &&
            isErasedDeadLetter(opts.erasures, message.key?.toString('utf8') ?? null, payloadJson(deadLetter.payload), Math.floor(deadLetter.received_at / 1000));
          if (erased && opts.skipped) opts.skipped.erased++;
          if (
            deadLetter &&
            !erased &&
            found.length < limit &&
            (!f.source || deadLetter.source === f.source) &&
            (!f.stage || deadLetter.stage === f.stage) &&
            (!f.reason || deadLetter.reasons.some((r) => r.includes(f.reason!)))
          ) {
            found.push({ position: `${partition}:${message.offset}`, deadLetter });
          }
          const end = pending.get(partition);
          if (end !== undefined && BigInt(message.offset) + 1n >= end) pending.delete(partition);
          if (pending.size === 0 || found.length >= limit) resolve();
        },
      }).catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return found;
}

/** One line of an export file: the payload as JSON when it is JSON (so it can be fixed by hand). */
export interface ExportedDeadLetter {
  position: string;
  source: string;
  stage: string;
  reasons: string[];
  received_at: string;
  origin: string | null;
  payload: unknown;
}

export function toExportLine(d: StoredDeadLetter): string {
  const text = d.deadLetter.payload.toString('utf8');
  const dl = d.deadLetter;
  let payload: unknown = text;
  try {
    payload = JSON.parse(text);
  } catch {
    payload = { unparsed: text };
  }
  // A fixed event gets an id derived from its dead letter, so replaying the file twice stores it once.
  if (payload && typeof payload === 'object' && !Array.isArray(payload) && !('event_id' in payload)) {
    payload = { event_id: `dead-letter-${dl.dead_letter_id}`, ...payload };
  }
  const line: ExportedDeadLetter = {
    position: d.position,
    source: dl.source,
    stage: dl.stage,
    reasons: dl.reasons,
    received_at: new Date(Math.floor(dl.received_at / 1000)).toISOString(),
    origin: dl.origin_topic ? `${dl.origin_topic}/${dl.origin_partition}/${dl.origin_offset}` : null,
    payload,
  };
  return JSON.stringify(line);
}

export interface ReplayOptions {
  /** Ingest base URL. */
  url: string;
  writeKey: string;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  /** Lines of customers erased since the line was dead-lettered are not posted (counted in skippedErased). */
  erasures?: ErasureCheck;
}

export interface ReplayReport {
  total: number;
  accepted: number;
  /** Lines left out: their customer was erased after they were dead-lettered. */
  skippedErased: number;
  rejected: Array<{ line: number; errors: string[] }>;
}

/** Posts the `payload` of every line of an export file (as fixed by hand) to ingest, in batches. */
export async function replayExportFile(file: string, opts: ReplayOptions): Promise<ReplayReport> {
  const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  const parsed = lines.map((l, i) => {
    try {
      return JSON.parse(l) as ExportedDeadLetter;
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not a JSON line (${(err as Error).message}); fix the line or remove it`);
    }
  });
  const check = opts.erasures;
  const kept = check ? parsed.filter((d) => !isErasedDeadLetter(check, null, d.payload, Date.parse(d.received_at) || 0)) : parsed;
  const payloads = kept.map((d) => d.payload);
  const report: ReplayReport = { total: payloads.length, accepted: 0, skippedErased: parsed.length - kept.length, rejected: [] };
  const size = opts.batchSize ?? 500;
  for (let start = 0; start < payloads.length; start += size) {
    const batch = payloads.slice(start, start + size);
    const res = await fetch(`${opts.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${opts.writeKey}` },
      body: JSON.stringify(batch),
    });
    const body = (await res.json()) as { accepted?: number; rejected?: Array<{ index: number; errors: string[] }>; message?: string };
    if (res.status !== 202 && res.status !== 400) {
      throw new Error(`ingest answered ${res.status} (${body.message ?? 'no message'}) after ${start} of ${payloads.length} lines; run the replay again (every line carries an event_id, so what was already accepted is not counted twice)`);
    }
    report.accepted += body.accepted ?? 0;
    for (const r of body.rejected ?? []) report.rejected.push({ line: start + r.index + 1, errors: r.errors });
    opts.onProgress?.(Math.min(start + size, payloads.length), payloads.length);
  }
  return report;
}
