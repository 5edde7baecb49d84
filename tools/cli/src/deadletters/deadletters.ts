// Dead letters are usable: list and inspect what ingest rejected (touchpoints.invalid.v1) or consumers could
// not process (deadletters.v1), export them to an NDJSON file to fix by hand, and replay the fixed file
// through ingest — so a replayed event is validated exactly like a new one.
import { readFileSync } from 'node:fs';
import type { Kafka } from 'kafkajs';
import { codecs, type DeadLetter } from '@touchstream/contracts';

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
          if (
            deadLetter &&
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
}

export interface ReplayReport {
  total: number;
  accepted: number;
  rejected: Array<{ line: number; errors: string[] }>;
}

/** Posts the `payload` of every line of an export file (as fixed by hand) to ingest, in batches. */
export async function replayExportFile(file: string, opts: ReplayOptions): Promise<ReplayReport> {
  const lines = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  const payloads = lines.map((l, i) => {
    try {
      return (JSON.parse(l) as ExportedDeadLetter).payload;
    } catch (err) {
      throw new Error(`${file}:${i + 1}: not a JSON line (${(err as Error).message}); fix the line or remove it`);
    }
  });
  const report: ReplayReport = { total: payloads.length, accepted: 0, rejected: [] };
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
