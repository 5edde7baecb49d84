// Steady load for the chaos suite, as a process of its own (so that killing services never kills the client
// that keeps count). Posts batches of touchpoints at a fixed rate to ingest and keeps every batch until it got a
// 2xx: a batch answered 503, cut off by a killed ingest or timed out is posted again, verbatim (same event_ids;
// a third of the events carry none and get the id ingest derives from their content, which is the same on a
// retry). Every acknowledged event is appended to the ack file as one JSON line (with the time of its 202), a
// whole batch in one append: at 10,000 events/s that is 20 appends of ~60 KiB per second, not 10,000 writes.
//
//   node --import tsx test/chaos-load.test-support.ts '<json options>'
//
// stdin, one command per line: `phase <name>` tags the events created from now on; `rate <batchSize> <intervalMs>
// <concurrency>` changes the pace from now on (the summary lists every change with its time); `stop` stops
// creating events, retries what is not acknowledged yet until it is, prints one JSON summary line on stdout and
// exits 0.
import { appendFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';

interface Options {
  url: string;
  writeKey: string;
  /** Customer ids are `<customerPrefix><n>`; all events carry `channel`. */
  customerPrefix: string;
  customers: number;
  channel: string;
  batchSize: number;
  /** A new batch every intervalMs. */
  intervalMs: number;
  /** Posts in flight at most. */
  concurrency: number;
  ackFile: string;
  /** Client-side bound of one post. */
  requestTimeoutMs: number;
}

interface PendingBatch {
  phase: string;
  events: Array<Record<string, unknown>>;
  attempts: number;
}

interface PhaseFigures {
  sent: number;
  acknowledged: number;
  posts: number;
  statuses: Record<string, number>;
  /** Posts that were retries of a batch. */
  retries: number;
}

interface RateChange {
  /** Date.now() when the pace changed. */
  at: number;
  batchSize: number;
  intervalMs: number;
  concurrency: number;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
const queue: PendingBatch[] = [];
const figures = new Map<string, PhaseFigures>();
let phase = 'warmup';
let creating = true;
let inFlight = 0;
/** Batches between a failed post and their retry. */
let waitingRetry = 0;
let seq = 0;
const rates: RateChange[] = [{ at: Date.now(), batchSize: opts.batchSize, intervalMs: opts.intervalMs, concurrency: opts.concurrency }];
const touchpoints = ['billing_inquiry_call', 'checkout_page', 'chat_message', 'password_reset', 'order_status'];
const reasons = ['billing_dispute', 'password_reset', 'delivery_delay', null];

function figuresOf(p: string): PhaseFigures {
  let f = figures.get(p);
  if (!f) figures.set(p, (f = { sent: 0, acknowledged: 0, posts: 0, statuses: {}, retries: 0 }));
  return f;
}

/** Deterministic enough to raise signals and alerts: surveys, negative sentiment, repeated reasons. */
function newEvent(): Record<string, unknown> {
  const n = seq++;
  const customer = `${opts.customerPrefix}${n % opts.customers}`;
  const event: Record<string, unknown> = {
    customer_id: customer,
    occurred_at: new Date().toISOString(),
    channel: opts.channel,
    touchpoint: touchpoints[n % touchpoints.length],
    initiator: n % 4 === 0 ? 'company' : 'customer',
    // Unique per event, so two events without event_id never have the same content.
    session_id: `${opts.customerPrefix}s${n}`,
  };
  const reason = reasons[n % reasons.length];
  if (reason) event.reason = reason;
  if (n % 7 === 0) event.survey = { kind: 'NPS', score: n % 11 };
  if (n % 5 === 0) event.sentiment = n % 10 === 0 ? -0.8 : 0.4;
  if (n % 3 !== 0) event.event_id = randomUUID();
  return event;
}

function createBatch() {
  const events = Array.from({ length: opts.batchSize }, newEvent);
  queue.push({ phase, events, attempts: 0 });
  figuresOf(phase).sent += events.length;
}

async function post(batch: PendingBatch): Promise<void> {
  const f = figuresOf(batch.phase);
  f.posts++;
  if (batch.attempts > 0) f.retries++;
  batch.attempts++;
  let status: string;
  let retryAfterMs = 300;
  try {
    const res = await fetch(`${opts.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${opts.writeKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(batch.events),
      signal: AbortSignal.timeout(opts.requestTimeoutMs),
    });
    status = String(res.status);
    const body = (await res.json().catch(() => ({}))) as { event_ids?: string[] };
    if (res.status === 202 && body.event_ids?.length === batch.events.length) {
      f.acknowledged += batch.events.length;
      const at = Date.now();
      const lines = batch.events.map((e, i) =>
        JSON.stringify({ event_id: body.event_ids![i], customer_id: e.customer_id, phase: batch.phase, own_id: e.event_id !== undefined, attempts: batch.attempts, at }),
      );
      appendFileSync(opts.ackFile, `${lines.join('\n')}\n`);
      f.statuses[status] = (f.statuses[status] ?? 0) + 1;
      return;
    }
    if (res.status === 202) status = '202-incomplete';
    // Retry-After is honoured, capped so the suite stays short.
    const retryAfter = Number(res.headers.get('retry-after'));
    if (retryAfter > 0) retryAfterMs = Math.min(retryAfter * 1000, 1000);
  } catch (err) {
    status = (err as Error).name === 'TimeoutError' ? 'timeout' : 'network-error';
  }
  f.statuses[status] = (f.statuses[status] ?? 0) + 1;
  // Not acknowledged: the same batch, the same bytes, again later. Only 503 and lost answers are expected here;
  // anything else (a 400 for a valid event, a 5xx) is counted in the figures and makes the suite fail.
  waitingRetry++;
  setTimeout(() => {
    waitingRetry--;
    queue.unshift(batch);
  }, retryAfterMs);
}

function pump() {
  while (inFlight < opts.concurrency && queue.length > 0) {
    const batch = queue.shift()!;
    inFlight++;
    void post(batch).finally(() => {
      inFlight--;
      pump();
    });
  }
}

/** Batches created since the last rate change: a tick that came late catches up, so the offered rate holds. */
let createdAtRate = 0;
const tick = () => {
  const r = rates.at(-1)!;
  const due = Math.floor((Date.now() - r.at) / r.intervalMs);
  while (creating && createdAtRate < due) {
    createBatch();
    createdAtRate++;
  }
  pump();
};
let creator = setInterval(tick, opts.intervalMs);

const pumpTimer = setInterval(pump, 50);

function summary() {
  return { phases: Object.fromEntries(figures), events: seq, rates };
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, arg, ...rest] = line.trim().split(/\s+/);
  if (command === 'phase' && arg) {
    phase = arg;
    figuresOf(phase);
  } else if (command === 'rate' && arg && rest.length === 2) {
    const [batchSize, intervalMs, concurrency] = [arg, ...rest].map(Number) as [number, number, number];
    if (![batchSize, intervalMs, concurrency].every((n) => Number.isInteger(n) && n > 0)) throw new Error(`bad rate command: ${line}`);
    Object.assign(opts, { batchSize, intervalMs, concurrency });
    rates.push({ at: Date.now(), batchSize, intervalMs, concurrency });
    createdAtRate = 0;
    clearInterval(creator);
    creator = setInterval(tick, intervalMs);
  } else if (command === 'stop') {
    creating = false;
    const done = setInterval(() => {
      pump();
      if (queue.length > 0 || inFlight > 0 || waitingRetry > 0) return;
      clearInterval(done);
      clearInterval(creator);
      clearInterval(pumpTimer);
      process.stdout.write(`${JSON.stringify(summary())}\n`, () => process.exit(0));
    }, 100);
  }
});
