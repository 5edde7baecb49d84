// serializeSends' recovery from a producer identity the broker refuses for good (OUT_OF_ORDER_SEQUENCE_NUMBER
// after a lost answer, see isFatalProducerError). The broker side of it is not reproducible on demand, so the
// kafkajs producers here are stand-ins that answer what a broker would; the chaos suite covers the real thing.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Producer, ProducerBatch, RecordMetadata } from 'kafkajs';
import { isFatalProducerError, serializeSends } from './client.ts';

const protocolError = (type: string) => Object.assign(new Error(`broker said ${type}`), { name: 'KafkaJSProtocolError', type });

/** A stand-in kafkajs producer: answers each sendBatch with the next of `answers`, records what it was asked. */
function standIn(id: number, answers: Array<Error | 'ok'>) {
  const emitter = new EventEmitter();
  const calls = { sent: [] as ProducerBatch[], connects: 0, disconnects: 0 };
  const producer = {
    id,
    calls,
    events: { CONNECT: 'producer.connect', DISCONNECT: 'producer.disconnect' },
    async connect() {
      calls.connects++;
      emitter.emit('producer.connect');
    },
    async disconnect() {
      calls.disconnects++;
      emitter.emit('producer.disconnect');
    },
    on(event: string, listener: () => void) {
      emitter.on(event, listener);
      return () => emitter.off(event, listener);
    },
    async sendBatch(batch: ProducerBatch): Promise<RecordMetadata[]> {
      calls.sent.push(batch);
      const answer = answers.shift() ?? 'ok';
      if (answer !== 'ok') throw answer;
      return (batch.topicMessages ?? []).map((t) => ({ topicName: t.topic, partition: 0, errorCode: 0, baseOffset: String(id) }));
    },
  };
  return producer;
}

function factory(answersPerProducer: Array<Array<Error | 'ok'>>) {
  const made: Array<ReturnType<typeof standIn>> = [];
  const create = () => {
    const p = standIn(made.length, answersPerProducer[made.length] ?? []);
    made.push(p);
    return p as unknown as Producer;
  };
  return { made, create };
}

const record = (topic: string) => ({ topic, messages: [{ key: 'k', value: 'v' }] });

describe('isFatalProducerError', () => {
  it('recognises the answers after which a producer id cannot write, also wrapped', () => {
    expect(isFatalProducerError(protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER'))).toBe(true);
    expect(isFatalProducerError(protocolError('UNKNOWN_PRODUCER_ID'))).toBe(true);
    expect(isFatalProducerError(Object.assign(new Error('gave up'), { cause: protocolError('INVALID_PRODUCER_EPOCH') }))).toBe(true);
    expect(isFatalProducerError(protocolError('NOT_LEADER_FOR_PARTITION'))).toBe(false);
    expect(isFatalProducerError(new Error('Connection timeout'))).toBe(false);
    expect(isFatalProducerError(undefined)).toBe(false);
  });
});

describe('serializeSends after a fatal broker answer', () => {
  it('fails that send, then writes through a new, connected producer; listeners follow it', async () => {
    const { made, create } = factory([[protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER')], []]);
    const producer = serializeSends(create);
    const seen: string[] = [];
    producer.on(producer.events.CONNECT, () => void seen.push('connect'));
    producer.on(producer.events.DISCONNECT, () => void seen.push('disconnect'));
    await producer.connect();
    expect(seen).toEqual(['connect']);

    await expect(producer.send(record('a'))).rejects.toMatchObject({ type: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    const [meta] = await producer.send(record('b'));
    expect(made).toHaveLength(2);
    expect(meta).toMatchObject({ topicName: 'b', baseOffset: '1' }); // answered by the second producer
    expect(made[1]!.calls.connects).toBe(1);
    expect(made[0]!.calls.disconnects).toBe(1);
    // The old producer's disconnect is not heard: a connection tracker stays "connected".
    expect(seen).toEqual(['connect', 'connect']);
  });

  it('keeps the producer after an ordinary error, and does not connect a producer nobody connected', async () => {
    const { made, create } = factory([[new Error('Request timed out'), protocolError('UNKNOWN_PRODUCER_ID')], []]);
    const producer = serializeSends(create);
    await expect(producer.send(record('a'))).rejects.toThrow('Request timed out');
    expect(made).toHaveLength(1);
    await expect(producer.send(record('a'))).rejects.toMatchObject({ type: 'UNKNOWN_PRODUCER_ID' });
    await producer.send(record('a'));
    expect(made).toHaveLength(2);
    expect(made[1]!.calls.connects).toBe(0);
  });

  it('sends queued behind the failed request go out through the new producer, in order', async () => {
    const { made, create } = factory([[protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER')], []]);
    const producer = serializeSends(create);
    const first = producer.send(record('t1'));
    // Queued while the first is in flight: merged into the next request, after the replacement.
    const later = [producer.send(record('t2')), producer.send(record('t3'))];
    await expect(first).rejects.toMatchObject({ type: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    await Promise.all(later);
    expect(made[1]!.calls.sent.flatMap((b) => (b.topicMessages ?? []).map((t) => t.topic))).toEqual(['t2', 't3']);
  });
});
