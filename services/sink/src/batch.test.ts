import { describe, expect, it } from 'vitest';
import { dedupTokenFor, rowsFor, storedKey, storedUnderOtherTokens, tableFor, tokenRange, withoutStored } from './batch.ts';
import { alert, batchOf, encode, signal, touchpoint } from './fixtures.test-support.ts';

describe('rowsFor', () => {
  it('maps each record of a touchpoints batch to a row, in order, with one result per record', () => {
    const batch = batchOf(
      'touchpoints.v1',
      [encode.touchpoint(touchpoint({ event_id: 'a' })), encode.touchpoint(touchpoint({ event_id: 'b', customer_id: 'cust-2' }))],
      { partition: 3, firstOffset: 100 },
    );
    const plan = rowsFor(batch);
    expect(plan.table).toBe('touchpoints');
    expect(plan.results).toEqual([{ kind: 'ok' }, { kind: 'ok' }]);
    expect(plan.rows.map((r) => [r.recordIndex, r.id, r.customerId, r.row.kafka_partition, r.row.kafka_offset])).toEqual([
      [0, 'a', 'cust-1', 3, 100],
      [1, 'b', 'cust-2', 3, 101],
    ]);
  });

  it('routes signals and alerts to their tables', () => {
    expect(rowsFor(batchOf('signals.v1', [encode.signal(signal())])).rows[0]).toMatchObject({ id: 'sig-1', row: { signal_id: 'sig-1' } });
    expect(rowsFor(batchOf('alerts.v1', [encode.alert(alert())])).rows[0]).toMatchObject({ id: 'alert-1', row: { level: 'at_risk' } });
    expect(tableFor('my-signals', { touchpoints: 'a', signals: 'my-signals', alerts: 'c' })).toBe('signals');
    expect(() => tableFor('deadletters.v1')).toThrow(/does not store/);
  });

  it('dead-letters records that fail to decode or cannot be stored, and keeps the rest', () => {
    const batch = batchOf('touchpoints.v1', [
      Buffer.from('not avro at all'),
      encode.touchpoint(touchpoint({ event_id: 'good' })),
      null,
      encode.signal(signal()), // a signal on the touchpoints topic
      encode.touchpoint(touchpoint({ event_id: 'future', occurred_at: Date.UTC(2200, 0, 1) * 1000 })),
    ]);
    const plan = rowsFor(batch);
    expect(plan.results.map((r) => r.kind)).toEqual(['dlq', 'ok', 'dlq', 'dlq', 'dlq']);
    expect(plan.results[0]).toMatchObject({ reason: expect.stringMatching(/^touchpoints record cannot be decoded: SchemaError/) });
    expect(plan.results[2]).toEqual({ kind: 'dlq', reason: 'record has no value' });
    expect(plan.results[4]).toMatchObject({ reason: expect.stringMatching(/cannot be stored: .*occurred_at/) });
    expect(plan.rows.map((r) => [r.recordIndex, r.id])).toEqual([[1, 'good']]);
  });

  it('drops a repeated id within the batch so it is inserted once', () => {
    const e = encode.touchpoint(touchpoint({ event_id: 'dup' }));
    const plan = rowsFor(batchOf('touchpoints.v1', [e, e]));
    expect(plan.rows).toHaveLength(1);
    expect(plan.results[1]).toEqual({ kind: 'drop', reason: 'duplicate event_id dup earlier in the same batch' });
  });
});

describe('withoutStored', () => {
  it('turns records whose (customer, id) is stored into drops and keeps the others', () => {
    const plan = rowsFor(
      batchOf('signals.v1', [
        encode.signal(signal({ signal_id: 's1' })),
        encode.signal(signal({ signal_id: 's2' })),
        encode.signal(signal({ signal_id: 's1', customer_id: 'other' })),
      ]),
    );
    const pruned = withoutStored(plan, new Map([[storedKey('cust-1', 's1'), { insertToken: 'signals.v1:0:0-0:another-insert', kafkaPartition: 0, kafkaOffset: 0 }]]));
    expect(pruned.rows.map((r) => r.recordIndex)).toEqual([1, 2]);
    expect(pruned.results).toEqual([{ kind: 'drop', reason: 'signal_id s1 already stored' }, { kind: 'ok' }, { kind: 'ok' }]);
    expect(pruned.dedupToken).toBe(plan.dedupToken);
    expect(pruned.rows.every((r) => r.row.insert_token === plan.dedupToken)).toBe(true);
  });

  it('keeps rows stored under this batch\'s own token: the batch goes again, to repair views it did not reach', () => {
    const plan = rowsFor(batchOf('signals.v1', [encode.signal(signal({ signal_id: 's1' })), encode.signal(signal({ signal_id: 's2' }))]));
    const own = (offset: number) => ({ insertToken: plan.dedupToken, kafkaPartition: 0, kafkaOffset: offset });
    const again = withoutStored(plan, new Map([[storedKey('cust-1', 's1'), own(0)], [storedKey('cust-1', 's2'), own(1)]]));
    expect(again.rows.map((r) => r.id)).toEqual(['s1', 's2']);
    expect(again.results).toEqual([{ kind: 'ok' }, { kind: 'ok' }]);
  });
});

describe('storedUnderOtherTokens', () => {
  it('names the inserts this very record stored under; copies at other offsets stay dropped', () => {
    const plan = rowsFor(batchOf('signals.v1', [encode.signal(signal({ signal_id: 's1' })), encode.signal(signal({ signal_id: 's2' }))], { partition: 4, firstOffset: 30 }));
    const tokens = storedUnderOtherTokens(
      plan,
      new Map([
        // s1 came from this record (partition 4, offset 30) in an earlier, cut-off insert: repair it.
        [storedKey('cust-1', 's1'), { insertToken: 'signals.v1:4:30-30:aaaa', kafkaPartition: 4, kafkaOffset: 30 }],
        // s2 is a copy stored from another offset (a replay): its insert may be out of the dedup window.
        [storedKey('cust-1', 's2'), { insertToken: 'signals.v1:4:7-9:bbbb', kafkaPartition: 4, kafkaOffset: 8 }],
      ]),
    );
    expect(tokens).toEqual([{ insertToken: 'signals.v1:4:30-30:aaaa', kafkaPartition: 4, kafkaOffset: 30 }]);
  });

  it('names each cut-off insert once, however many of its records the batch holds', () => {
    const plan = rowsFor(
      batchOf('signals.v1', ['s1', 's2', 's3'].map((id) => encode.signal(signal({ signal_id: id }))), { partition: 4, firstOffset: 30 }),
    );
    const at = (insertToken: string, kafkaOffset: number) => ({ insertToken, kafkaPartition: 4, kafkaOffset });
    const tokens = storedUnderOtherTokens(
      plan,
      new Map([
        [storedKey('cust-1', 's1'), at('signals.v1:4:20-31:aaaa', 30)],
        [storedKey('cust-1', 's2'), at('signals.v1:4:20-31:aaaa', 31)],
        [storedKey('cust-1', 's3'), at('signals.v1:4:32-40:cccc', 32)],
      ]),
    );
    expect(tokens.map((t) => t.insertToken)).toEqual(['signals.v1:4:20-31:aaaa', 'signals.v1:4:32-40:cccc']);
  });
});

describe('tokenRange', () => {
  it('reads the partition and offsets back from a token', () => {
    expect(tokenRange('touchpoints.v1:4:30-45:abcd0123')).toEqual({ partition: 4, firstOffset: 30, lastOffset: 45 });
    expect(tokenRange(dedupTokenFor(batchOf('touchpoints.v1', [Buffer.from('x')], { partition: 2, firstOffset: 7 })))).toEqual({
      partition: 2,
      firstOffset: 7,
      lastOffset: 7,
    });
    expect(tokenRange('not-a-sink-token')).toBeUndefined();
  });
});

describe('dedupTokenFor', () => {
  const values = [encode.touchpoint(touchpoint({ event_id: 'a' })), encode.touchpoint(touchpoint({ event_id: 'b' }))];

  it('is <topic>:<partition>:<first>-<last>:<content hash>, the same for a verbatim retry', () => {
    const token = dedupTokenFor(batchOf('touchpoints.v1', values, { partition: 7, firstOffset: 40 }));
    expect(token).toMatch(/^touchpoints\.v1:7:40-41:[0-9a-f]{16}$/);
    expect(dedupTokenFor(batchOf('touchpoints.v1', values, { partition: 7, firstOffset: 40 }))).toBe(token);
  });

  it('differs for other records at the same offsets (e.g. a recreated topic)', () => {
    const a = dedupTokenFor(batchOf('touchpoints.v1', values, { firstOffset: 0 }));
    const b = dedupTokenFor(batchOf('touchpoints.v1', [values[1]!, values[0]!], { firstOffset: 0 }));
    expect(a).not.toBe(b);
  });

  it('passes the token check of insertRows', () => {
    expect(dedupTokenFor(batchOf('touchpoints.v1', values))).toMatch(/^[A-Za-z0-9._:-]+$/);
  });
});
