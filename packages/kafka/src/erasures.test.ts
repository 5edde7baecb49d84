import { describe, expect, it } from 'vitest';
import { erasureKey } from '@touchstream/contracts';
import { ErasedCustomers, erasureMessage, withoutErased } from './erasures.ts';
import type { ConsumedBatch, KafkaRecord } from './types.ts';

const secret = 'a-test-secret-of-at-least-32-characters';
const record = (offset: number, key: string, timestamp: number): KafkaRecord => ({
  topic: 't', partition: 0, offset: String(offset), key, value: Buffer.from(`${key}@${offset}`), headers: {}, timestamp: String(timestamp),
});
const batchOf = (records: KafkaRecord[]): ConsumedBatch => ({ topic: 't', partition: 0, records, firstOffset: records[0]!.offset, lastOffset: records.at(-1)!.offset });

describe('ErasedCustomers', () => {
  it('covers records written at or before the latest erasure, not later ones', () => {
    const erased = new ErasedCustomers(secret);
    erased.record(erasureKey(secret, 'c1'), 1000);
    erased.record(erasureKey(secret, 'c1'), 500); // an older record read later does not move the erasure back
    expect(erased.covers('c1', 999)).toBe(true);
    expect(erased.covers('c1', 1000)).toBe(true);
    expect(erased.covers('c1', 1001)).toBe(false);
    expect(erased.covers('c2', 1)).toBe(false);
  });

  it('with `forever` (policy refuse) covers every record of an erased customer, even one written after the erasure', () => {
    const erased = new ErasedCustomers(secret, { forever: true });
    erased.record(erasureKey(secret, 'c1'), 1000);
    expect(erased.covers('c1', 5000)).toBe(true);
    expect(erased.covers('c2', 5000)).toBe(false);
  });

  it('keys erasures.v1 by the keyed hash, never the id', () => {
    const message = erasureMessage(new ErasedCustomers(secret), 'alice@example.com', 42);
    expect(message.key).toBe(erasureKey(secret, 'alice@example.com'));
    expect(message.key).toMatch(/^[0-9a-f]{64}$/);
    expect(`${message.key}${message.value.toString()}`).not.toContain('alice');
    expect(erasureKey('another-secret-of-at-least-32-chars!', 'alice@example.com')).not.toBe(message.key);
  });
});

describe('withoutErased', () => {
  it('drops the erased customer\'s earlier records and hands the rest to the step, in order, with their results back in place', async () => {
    const erased = new ErasedCustomers(secret);
    erased.record(erasureKey(secret, 'gone'), 2000);
    const seen: string[][] = [];
    const step = withoutErased(erased, async (batches) => {
      seen.push(...batches.map((b) => b.records.map((r) => r.offset)));
      return batches.map((b) => b.records.map(() => ({ kind: 'ok' as const })));
    });
    const results = await step([
      batchOf([record(1, 'kept', 1500), record(2, 'gone', 1500), record(3, 'gone', 2500), record(4, 'kept', 1600)]),
      batchOf([record(7, 'gone', 100)]),
    ]);
    expect(seen).toEqual([['1', '3', '4']]);
    expect(results[0]!.map((r) => r.kind)).toEqual(['ok', 'drop', 'ok', 'ok']);
    expect(results[1]).toEqual([{ kind: 'drop', reason: 'customer erased' }]);
  });
});
