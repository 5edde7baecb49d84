// POST /v1/events. Registered as an encapsulated plugin so its content-type parsers, body limit and
// `{code, message}` error handler apply to this route only, not to /healthz or the other modules' routes. The
// write key is checked by the process's one role check (role `write`, @touchstream/runtime enforceRoles).
import type { FastifyError, FastifyPluginAsync, FastifyReply } from 'fastify';
import { topicNames, type createIdempotentProducer, type KafkaWriteHealth, type LogSink } from '@touchstream/kafka';
import { createProfileValidator, createTouchpointValidator, defaultProfileLimits, defaultTouchpointLimits, type ProfileLimits, type TouchpointLimits } from '@touchstream/contracts';
import { acceptedMediaTypes, mediaKindOf, parseEventsBody } from './body.ts';
import { deadLetterMessage, prepareBatch, type IngestMessage, type PrepareBatchOptions } from './batch.ts';
import { humanBytes, ingestRouteSchema } from './schemas.ts';
import type { BodyItem } from './body.ts';
import { defaultSegmentMapping, type SegmentMapping } from './segment/mapping.ts';
import { segmentRoutes } from './segment/routes.ts';
import { prepareProfiles, profileRoutes } from './profiles.ts';

/** The process's idempotent kafkajs producer (created and connected by the composition root). */
export type IngestProducer = ReturnType<typeof createIdempotentProducer>;

export interface IngestLimits {
  /** Most events in one request (JSON array items or NDJSON lines). Default 1000. */
  maxEventsPerRequest: number;
  /** Largest request body in bytes. Default 1 MiB. */
  maxBodyBytes: number;
  /** Bounds of one event (string lengths, attributes, clock skew). */
  touchpoint: TouchpointLimits;
  /** Bounds of one profile update (§20.6). */
  profile: ProfileLimits;
  /** How long to wait for Kafka's acknowledgement before answering 503. Default 10 s. */
  sendTimeoutMs: number;
  /** Retry-After sent with 503. Default 5 s. */
  retryAfterSeconds: number;
  /**
   * Bytes of encoded events handed to Kafka and not yet acknowledged or failed, at most. A send that outlives
   * its request (answered 503 after sendTimeoutMs) still holds its events in the producer until Kafka takes
   * them, so while Kafka is away this is what bounds memory: over it, requests are answered 503 at once,
   * before their body is read. Default 32 MiB.
   */
  maxInFlightBytes: number;
}

export interface IngestDeps {
  producer: IngestProducer;
  limits?: Partial<Omit<IngestLimits, 'touchpoint' | 'profile'>> & { touchpoint?: Partial<TouchpointLimits>; profile?: Partial<ProfileLimits> };
  topics?: { touchpoints: string; invalid: string; profiles?: string };
  /** Epoch milliseconds; injectable so tests can pin "now". Defaults to Date.now. */
  now?: () => number;
  /** Told about every send's outcome (readiness follows it). */
  health?: Pick<KafkaWriteHealth, 'sendSucceeded' | 'sendFailed'>;
  /** Receives the in-flight gauge, e.g. for readiness or metrics. */
  onInFlight?: (gauge: InFlightGauge) => void;
  /** How Segment messages become touchpoints (POST /v1/batch, /v1/track, …); default defaultSegmentMapping. */
  segmentMapping?: SegmentMapping;
  log: LogSink;
  /** Pseudonymisation and the erased-customer policy (docs/architecture.md §14). */
  privacy?: Pick<PrepareBatchOptions, 'storedCustomerId' | 'isErased'>;
}

/** What ingest has handed to Kafka and not heard back about yet. */
export interface InFlightGauge {
  bytes(): number;
  sends(): number;
}

export function resolveIngestLimits(limits: IngestDeps['limits'] = {}): IngestLimits {
  return {
    maxEventsPerRequest: limits.maxEventsPerRequest ?? 1000,
    maxBodyBytes: limits.maxBodyBytes ?? 1024 * 1024,
    touchpoint: { ...defaultTouchpointLimits, ...limits.touchpoint },
    profile: { ...defaultProfileLimits, maxFutureSkewMs: limits.touchpoint?.maxFutureSkewMs ?? defaultProfileLimits.maxFutureSkewMs, ...limits.profile },
    sendTimeoutMs: limits.sendTimeoutMs ?? 10_000,
    retryAfterSeconds: limits.retryAfterSeconds ?? 5,
    maxInFlightBytes: limits.maxInFlightBytes ?? 32 * 1024 * 1024,
  };
}

/** Too much is already waiting for Kafka: refused before producing anything. */
class BacklogFullError extends Error {
  constructor(readonly inFlightBytes: number) {
    super(`${inFlightBytes} bytes are already waiting for Kafka's acknowledgement`);
    this.name = 'BacklogFullError';
  }
}

class SendTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`Kafka did not acknowledge within ${timeoutMs} ms`);
    this.name = 'SendTimeoutError';
  }
}

export function ingestPlugin(deps: IngestDeps): FastifyPluginAsync {
  const limits = resolveIngestLimits(deps.limits);
  const topics = deps.topics ?? { touchpoints: topicNames.touchpoints, invalid: topicNames.invalid };
  const now = deps.now ?? Date.now;
  const validator = createTouchpointValidator(limits.touchpoint);
  const profileValidator = createProfileValidator(limits.profile);
  const profilesTopic = deps.topics?.profiles ?? topicNames.profiles;
  const supported = Object.keys(acceptedMediaTypes);

  // Counted from the hand-over to the producer until the send settles, which may be long after the request
  // was answered 503 (the producer retries until Kafka takes the events).
  let inFlightBytes = 0;
  let inFlightSends = 0;
  deps.onInFlight?.({ bytes: () => inFlightBytes, sends: () => inFlightSends });
  const sizeOf = (messages: IngestMessage[]) => messages.reduce((n, m) => n + m.value.length + m.key.length, 0);

  /** Both topics' writes, acknowledged by all in-sync replicas, or a rejection after at most sendTimeoutMs. */
  async function sendAcked(sends: Array<{ topic: string; messages: IngestMessage[] }>): Promise<void> {
    const bytes = sends.reduce((n, s) => n + sizeOf(s.messages), 0);
    if (inFlightBytes > 0 && inFlightBytes + bytes > limits.maxInFlightBytes) throw new BacklogFullError(inFlightBytes);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SendTimeoutError(limits.sendTimeoutMs)), limits.sendTimeoutMs);
    });
    inFlightBytes += bytes;
    inFlightSends++;
    // One produce request for both topics (the producer sends one request at a time: see serializeSends).
    const topicMessages = sends.filter((s) => s.messages.length > 0).map((s) => ({ topic: s.topic, messages: s.messages }));
    const acked = deps.producer.sendBatch({ acks: -1, timeout: limits.sendTimeoutMs, topicMessages }).then(
      () => deps.health?.sendSucceeded(),
      (err: Error) => {
        deps.health?.sendFailed(`a send to Kafka failed: ${err.message}`);
        throw err;
      },
    ).finally(() => {
      inFlightBytes -= bytes;
      inFlightSends--;
    });
    // A send that loses the race still finishes (or fails) in the background: its outcome is handled here.
    acked.catch(() => undefined);
    try {
      await Promise.race([acked, timeout]);
    } catch (err) {
      if (err instanceof SendTimeoutError) deps.health?.sendFailed(`Kafka did not acknowledge a send within ${limits.sendTimeoutMs} ms`);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  let backlogWarnedAt = 0;
  function backlogFull(reply: FastifyReply) {
    // One line per 10 s, not one per refused request.
    if (Date.now() - backlogWarnedAt > 10_000) {
      backlogWarnedAt = Date.now();
      deps.log.warn({ inFlightBytes, inFlightSends, limit: limits.maxInFlightBytes }, 'ingest: Kafka backlog is full; answering 503 at once');
    }
    return reply
      .code(503)
      .header('retry-after', String(limits.retryAfterSeconds))
      .send({
        code: 'KAFKA_BACKLOG_FULL',
        message: `Kafka is not taking writes as fast as they come (${humanBytes(limits.maxInFlightBytes)} already wait for its acknowledgement); nothing from this request was written. Retry after ${limits.retryAfterSeconds} s.`,
      });
  }

  function kafkaUnavailable(reply: FastifyReply, err: unknown, events: number) {
    if (err instanceof BacklogFullError) return backlogFull(reply);
    const timedOut = err instanceof SendTimeoutError;
    deps.log.warn({ err: (err as Error).message, events, timedOut }, 'ingest could not write to Kafka; answering 503');
    const why = timedOut ? `Kafka did not acknowledge the events within ${limits.sendTimeoutMs} ms` : 'Kafka cannot take writes right now';
    return reply
      .code(503)
      .header('retry-after', String(limits.retryAfterSeconds))
      .send({
        code: 'KAFKA_UNAVAILABLE',
        message: `${why}; nothing from this request is confirmed. Retry after ${limits.retryAfterSeconds} s with the same events: each is counted once however often it is sent (by its event_id, or the one derived from its content).`,
      });
  }

  return async function ingestRoutes(app) {
    app.addHook('onRequest', async (_request, reply) => {
      // Refused before the body is read: while Kafka is away, clients that keep posting cost no memory.
      if (inFlightBytes >= limits.maxInFlightBytes) return backlogFull(reply);
    });

    // Only our media types, read as raw bytes: we parse ourselves to report positions, keep each event's raw
    // bytes for the dead-letter topic and read NDJSON line by line.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(supported, { parseAs: 'buffer', bodyLimit: limits.maxBodyBytes }, (_request, body, done) => {
      done(null, body);
    });

    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        return reply.code(413).send({
          code: 'BODY_TOO_LARGE',
          message: `the body is larger than the limit of ${humanBytes(limits.maxBodyBytes)} (${limits.maxBodyBytes} bytes); split the events into smaller requests`,
          limit: limits.maxBodyBytes,
        });
      }
      if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        const given = request.headers['content-type'];
        return reply.code(415).send({
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `${given ? `content type '${given}' is not accepted` : 'the request has a body but no Content-Type'}; send application/json (one event or an array) or application/x-ndjson (one event per line)`,
          supported,
        });
      }
      // Everything else is answered by the process's one error handler.
      throw err;
    });

    /** Valid items to Kafka, the rest dead-lettered, in one produce request; undefined once a 503 was sent. */
    async function deliverItems(reply: FastifyReply, items: BodyItem[], source: string, contentType: string, nowMs: number) {
      const batch = prepareBatch(items, { validator, source, contentType, nowMs, ...deps.privacy });
      try {
        await sendAcked([
          { topic: topics.touchpoints, messages: batch.touchpoints },
          { topic: topics.invalid, messages: batch.deadLetters },
        ]);
      } catch (err) {
        kafkaUnavailable(reply, err, items.length);
        return undefined;
      }
      return { accepted: batch.touchpoints.length, rejected: batch.rejected, event_ids: batch.eventIds };
    }

    /** A body that is refused whole, kept for inspection when Kafka takes it (the answer is 400 either way). */
    async function deadLetterBody(source: string, reason: string, body: Buffer, contentType: string, nowMs: number) {
      try {
        await sendAcked([{ topic: topics.invalid, messages: [deadLetterMessage({ source, reasons: [reason], payload: body, contentType, requestIndex: null, receivedAtMs: nowMs })] }]);
      } catch (err) {
        deps.log.warn({ err: (err as Error).message, source }, 'could not dead-letter a refused body');
      }
    }

    /** Valid profiles to profiles.v1, the rest dead-lettered, in one produce request; undefined once a 503 was sent. */
    async function deliverProfiles(reply: FastifyReply, items: BodyItem[], source: string, contentType: string, nowMs: number, customerId?: string) {
      const prepared = prepareProfiles(items, { validator: profileValidator, source, contentType, nowMs, customerId, ...deps.privacy });
      try {
        await sendAcked([
          { topic: profilesTopic, messages: prepared.profiles },
          { topic: topics.invalid, messages: prepared.deadLetters },
        ]);
      } catch (err) {
        kafkaUnavailable(reply, err, items.length);
        return undefined;
      }
      return { accepted: prepared.profiles.length, rejected: prepared.rejected, profile_ids: prepared.profileIds };
    }

    await app.register(profileRoutes({ limits, now, deliverProfiles, deadLetterBody }));

    await app.register(
      segmentRoutes({
        mapping: deps.segmentMapping ?? defaultSegmentMapping,
        limits,
        now,
        deliverItems,
        deliverProfiles,
        deadLetterBody,
      }),
    );

    app.post(
      '/v1/events',
      {
        schema: ingestRouteSchema(limits),
        config: { role: 'write' },
        bodyLimit: limits.maxBodyBytes,
        // The body schema is for /docs only: each event is validated on its own below, so that one bad event
        // is rejected with its reasons instead of failing the whole batch.
        validatorCompiler: () => () => true,
      },
      async (request, reply) => {
        // The name configuration gives the write key (WRITE_KEYS=<key>=<source>).
        const source = request.caller!.name;
        const kind = mediaKindOf(request.headers['content-type']);
        const body = request.body;
        if (!kind || !Buffer.isBuffer(body) || body.length === 0) {
          return reply.code(400).send({
            code: 'EMPTY_BATCH',
            message: 'the request has no body; send one event as a JSON object, a JSON array of events, or NDJSON',
          });
        }
        const contentType = request.headers['content-type']!.split(';')[0]!.trim().toLowerCase();
        const nowMs = now();
        const parsed = parseEventsBody(body, kind, { maxEvents: limits.maxEventsPerRequest });

        switch (parsed.kind) {
          case 'empty':
            return reply.code(400).send({ code: 'EMPTY_BATCH', message: 'the request contains no events' });
          case 'too-many-events':
            return reply.code(413).send({
              code: 'TOO_MANY_EVENTS',
              message: `the request has ${parsed.count} events; at most ${parsed.limit} are accepted per request, so split it`,
              limit: parsed.limit,
            });
          case 'invalid-json': {
            // V8 names the position in some messages only; say it once either way.
            const where = parsed.position !== undefined && !parsed.message.includes('position') ? ` (at position ${parsed.position}, line ${parsed.line} column ${parsed.column})` : '';
            const reason = `the body is not valid JSON${where}: ${parsed.message}`;
            // Kept for inspection when Kafka takes it, but the answer is 400 either way: the client must fix the
            // body, and a 503 would only make it retry something that cannot succeed.
            await deadLetterBody(source, reason, body, contentType, nowMs);
            return reply.code(400).send({
              code: 'INVALID_JSON',
              message: reason,
              ...(parsed.position !== undefined ? { position: parsed.position, line: parsed.line, column: parsed.column } : {}),
            });
          }
          case 'items': {
            const result = await deliverItems(reply, parsed.items, source, contentType, nowMs);
            if (!result) return reply;
            if (result.accepted === 0 && result.rejected.length > 0 && result.rejected.every((r) => r.code === 'CUSTOMER_ERASED')) {
              return reply.code(409).send({
                code: 'CUSTOMER_ERASED',
                message: 'every event of the request is for an erased customer; this deployment refuses them (ERASED_CUSTOMER_POLICY=refuse)',
                ...result,
              });
            }
            if (result.accepted === 0) {
              return reply.code(400).send({
                code: 'NO_VALID_EVENTS',
                message: `none of the ${parsed.items.length} events is valid; see rejected`,
                ...result,
              });
            }
            return reply.code(202).send(result);
          }
        }
      },
    );
  };
}
