// Load for `touchstream bench pipeline`: realistic touchpoints of many customers (each living through the demo's
// bank, telecom and retail journeys, with their detractor surveys, negative sentiment, repeat calls, escalations
// and complaints), "probe" events built to raise a critical alert at once, and the HTTP clients that post them
// (keep-alive, bounded concurrency), read the live alert stream (SSE) and poll the query API's count.
import http from 'node:http';
import { JOURNEYS, seededRng, type DemoEvent, type JourneyStep, type Rng } from '../demo/demo.ts';

export interface BenchEvent extends DemoEvent {
  event_id: string;
}

const journeyKinds = Object.keys(JOURNEYS) as Array<keyof typeof JOURNEYS>;

/**
 * Events for `customers` customers: each call picks a customer at random and emits the next step of the journey
 * it is in (a new journey when the last one ended). Events carry client event ids (unique per run) and
 * occurred_at = now, so everything is live (alerts are raised, nothing is backfill).
 */
export class TrafficGenerator {
  private readonly rng: Rng;
  private readonly journeys: Array<JourneyStep[] | undefined>;
  private readonly position: Uint16Array;
  private seq = 0;
  private probes = 0;

  constructor(
    readonly customers: number,
    readonly runId: string,
    seed: number,
  ) {
    this.rng = seededRng(seed);
    this.journeys = new Array(customers);
    this.position = new Uint16Array(customers);
  }

  customerId(index: number): string {
    return `bench-${this.runId}-${index.toString(36)}`;
  }

  next(occurredAt: string): BenchEvent {
    const c = Math.floor(this.rng() * this.customers);
    let steps = this.journeys[c];
    if (!steps || this.position[c]! >= steps.length) {
      steps = JOURNEYS[journeyKinds[Math.floor(this.rng() * journeyKinds.length)]!](this.rng);
      this.journeys[c] = steps;
      this.position[c] = 0;
    }
    const step = steps[this.position[c]!++]!;
    return { ...step.event, event_id: `${this.runId}-${(this.seq++).toString(36)}`, customer_id: this.customerId(c), occurred_at: occurredAt };
  }

  /**
   * A fresh customer's escalated complaint call with a long wait, very negative sentiment and an NPS 0: complaint
   * (4) + escalation (2) + negative sentiment (2) + detractor (3) + SLA breach (1) = 12 ≥ critical (10) with the
   * default rules, so this one event raises a critical alert.
   */
  probe(occurredAt: string): BenchEvent {
    const customer_id = `bench-${this.runId}-probe-${(this.probes++).toString(36)}`;
    return {
      event_id: `${this.runId}-${(this.seq++).toString(36)}`,
      customer_id,
      occurred_at: occurredAt,
      channel: 'phone',
      touchpoint: 'complaint_call',
      initiator: 'customer',
      journey: 'billing_support',
      stage: 'support',
      reason: 'formal_complaint',
      outcome: 'escalated',
      wait_ms: 1_500_000,
      duration_ms: 1_200_000,
      sentiment: -0.95,
      survey: { kind: 'NPS', score: 0, comment: 'third call about the same bill, still not fixed' },
    };
  }

  get generated(): number {
    return this.seq;
  }
}

export interface PostResult {
  status: number;
  accepted: number;
  rejected: number;
  /** Request sent → response complete, ms. */
  ms: number;
  /** performance.now() when the response was complete. */
  at: number;
  error?: string;
  body?: string;
}

/** Keep-alive HTTP client for POST /v1/events (node:http, one socket per request in flight). */
export class IngestClient {
  private readonly agent: http.Agent;
  private readonly url: URL;

  constructor(baseUrl: string, private readonly writeKey: string, maxSockets: number) {
    this.url = new URL('/v1/events', baseUrl);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  post(events: readonly BenchEvent[]): Promise<PostResult> {
    const body = Buffer.from(JSON.stringify(events));
    const started = performance.now();
    return new Promise((resolve) => {
      const req = http.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${this.writeKey}` },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const at = performance.now();
            const text = Buffer.concat(chunks).toString('utf8');
            let accepted = 0;
            let rejected = 0;
            try {
              const parsed = JSON.parse(text) as { accepted?: number; rejected?: unknown[] };
              accepted = parsed.accepted ?? 0;
              rejected = parsed.rejected?.length ?? 0;
            } catch {
              // not JSON: reported through the status
            }
            resolve({ status: res.statusCode ?? 0, accepted, rejected, ms: at - started, at, body: res.statusCode === 202 ? undefined : text.slice(0, 300) });
          });
          res.on('error', (err) => resolve({ status: 0, accepted: 0, rejected: 0, ms: performance.now() - started, at: performance.now(), error: err.message }));
        },
      );
      req.on('error', (err) => resolve({ status: 0, accepted: 0, rejected: 0, ms: performance.now() - started, at: performance.now(), error: err.message }));
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** GET returning parsed JSON (a fresh connection each time is fine at two requests a second). */
export function getJson<T>(url: string, key: string, timeoutMs = 30_000): Promise<{ status: number; body: T | null; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${key}` }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: T | null = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
        } catch {
          body = null;
        }
        resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

export interface StreamedAlertInfo {
  customer_id: string;
  level: string;
  alert_id: string;
}

/**
 * A client of GET /v1/alerts/stream (SSE): calls `onAlert` with each alert as it arrives; reconnects with the last
 * event id when the stream ends (dropped as too slow, server restart) until stopped.
 */
export class AlertStreamClient {
  private req: http.ClientRequest | undefined;
  private lastId: string | undefined;
  private stopped = false;
  private connectedOnce!: () => void;
  /** Resolves when the first connection answered 200. */
  readonly connected = new Promise<void>((r) => (this.connectedOnce = r));
  alerts = 0;
  reconnects = 0;
  endings: string[] = [];

  constructor(
    private readonly url: string,
    private readonly key: string,
    private readonly onAlert: (alert: StreamedAlertInfo, at: number) => void,
    private readonly onProblem: (message: string) => void,
  ) {}

  start(): void {
    if (this.stopped) return;
    const headers: Record<string, string> = { authorization: `Bearer ${this.key}`, accept: 'text/event-stream' };
    if (this.lastId) headers['last-event-id'] = this.lastId;
    let gone = false;
    const again = (reason: string) => {
      if (gone) return;
      gone = true;
      this.again(reason);
    };
    const req = http.get(this.url, { headers }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        again(`answered ${res.statusCode}`);
        return;
      }
      this.connectedOnce();
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          this.handle(block, at);
        }
      });
      res.on('end', () => again('the stream ended'));
      res.on('error', (err) => again(err.message));
    });
    req.on('error', (err) => again(err.message));
    this.req = req;
  }

  private handle(block: string, at: number): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) this.lastId = line.slice(4);
      else if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (event === 'alert') {
      this.alerts++;
      try {
        this.onAlert(JSON.parse(data) as StreamedAlertInfo, at);
      } catch (err) {
        this.onProblem(`undecodable alert on the stream: ${(err as Error).message}`);
      }
    } else if (event === 'dropped' || event === 'shutdown' || event === 'error') {
      this.endings.push(`${event}: ${data.slice(0, 200)}`);
    }
  }

  private again(reason: string): void {
    if (this.stopped) return;
    this.req = undefined;
    this.reconnects++;
    this.onProblem(`alert stream: ${reason}; reconnecting`);
    setTimeout(() => this.start(), 500).unref();
  }

  stop(): void {
    this.stopped = true;
    this.req?.destroy();
  }
}
