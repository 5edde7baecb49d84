import { describe, expect, it } from 'vitest';
import { KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { codecs } from '@touchstream/contracts';
import { isRebalanceRefusal, produceRequests, routeResults } from './consumer.ts';
import type { KafkaRecord } from './types.ts';

const record = (offset: string): KafkaRecord => ({
  topic: 'touchpoints.v1', partition: 2, offset, key: 'c-1', value: Buffer.from('garbage'), headers: {}, timestamp: '0',
});

describe('routeResults', () => {
  it('produces ok outputs, dead-letters dlq records with their origin, and drops drops', () => {
    const stats = { calls: 0, batches: 0, records: 0, ok: 0, dlq: 0, drop: 0, outputs: 0 };
    const out = routeResults(
      [record('10'), record('11'), record('12')],
      [
        { kind: 'ok', outputs: [{ topic: 'signals.v1', key: 'c-1', value: Buffer.from('s') }] },
        { kind: 'dlq', reason: 'not Avro' },
        { kind: 'drop', reason: 'erased customer' },
      ],
      { stage: 'processor', source: 'touchstream-processor', deadLetterTopic: 'deadletters.v1', nowMs: 1000 },
      stats,
    );
    expect(out.map((o) => o.topic)).toEqual(['signals.v1', 'deadletters.v1']);
    const dead = codecs.deadLetter.decode(out[1]!.value);
    expect(dead).toMatchObject({ origin_topic: 'touchpoints.v1', origin_partition: 2, origin_offset: '11', reasons: ['not Avro'], stage: 'processor' });
    expect(dead.payload.toString()).toBe('garbage');
    expect(stats).toMatchObject({ ok: 1, dlq: 1, drop: 1 });
  });

  it('refuses a handler that lost track of records', () => {
    expect(() => routeResults([record('1')], [], { stage: 's', source: 's', deadLetterTopic: 'd', nowMs: 0 })).toThrow(/0 results for 1 records/);
  });
});

describe('isRebalanceRefusal', () => {
  // As kafkajs's retrier throws a non-retriable protocol error from commitOffsets (retry/index.js).
  const wrapped = (type: string, code: number) => {
    const protocol = new KafkaJSProtocolError({ message: `answer ${type}`, type, code, retriable: false } as never);
    return Object.assign(new KafkaJSNonRetriableError(protocol), { cause: protocol });
  };

  it('recognises a commit refused because the group is rebalancing, wrapped or not', () => {
    expect(isRebalanceRefusal(wrapped('REBALANCE_IN_PROGRESS', 27))).toBe(true);
    expect(isRebalanceRefusal(wrapped('ILLEGAL_GENERATION', 22))).toBe(true);
    expect(isRebalanceRefusal(wrapped('UNKNOWN_MEMBER_ID', 25))).toBe(true);
    expect(isRebalanceRefusal(new KafkaJSProtocolError({ message: 'x', type: 'REBALANCE_IN_PROGRESS', code: 27 } as never))).toBe(true);
  });

  it('leaves every other failure to crash the consumer', () => {
    expect(isRebalanceRefusal(wrapped('TOPIC_AUTHORIZATION_FAILED', 29))).toBe(false);
    expect(isRebalanceRefusal(new Error('connection closed'))).toBe(false);
    expect(isRebalanceRefusal(undefined)).toBe(false);
  });
});

describe('produceRequests', () => {
  const message = (n: number, bytes: number) => ({ topic: 'signals.v1', key: `c-${n}`, value: Buffer.alloc(bytes) });

  it('cuts outputs into requests under the byte bound, in order, a larger message alone', () => {
    const messages = [message(0, 400), message(1, 400), message(2, 400), message(3, 5000), message(4, 10)];
    const requests = produceRequests(messages, 1000);
    expect(requests.map((r) => r.map((m) => m.key))).toEqual([['c-0', 'c-1'], ['c-2'], ['c-3'], ['c-4']]);
    expect(requests.flat()).toEqual(messages);
  });

  it('sends nothing for no outputs', () => {
    expect(produceRequests([])).toEqual([]);
  });
});
