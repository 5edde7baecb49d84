// Keyed hashes of customer ids (docs/architecture.md §14). One secret, two uses kept apart by a domain label:
//  * the pseudonym that replaces a raw customer_id at ingest when pseudonymisation is on (what every store keeps);
//  * the erasure key that names an erased customer in erasures.v1 and the audit log, never the id in clear.
// HMAC-SHA-256 rather than a plain hash: customer ids are guessable (e-mail addresses, account numbers), and a
// plain hash of a guessable id is as good as the id to whoever guesses.
import { createHmac } from 'node:crypto';

function keyedHash(secret: string, label: string, value: string): string {
  return createHmac('sha256', secret).update(`touchstream.${label}.v1\0${value}`).digest('hex');
}

/** The customer_id stored for a raw id when ingest pseudonymises (`p_` + 32 hex: recognisable, still a valid id). */
export function pseudonymousCustomerId(secret: string, rawCustomerId: string): string {
  return `p_${keyedHash(secret, 'pseudonym', rawCustomerId).slice(0, 32)}`;
}

/** The key of a stored customer_id in erasures.v1 and the erasure audit log (64 hex). */
export function erasureKey(secret: string, storedCustomerId: string): string {
  return keyedHash(secret, 'erasure', storedCustomerId);
}

/** The value of an erasures.v1 record (JSON): when the erasure was decided. Key: erasureKey(customer id). */
export interface ErasureRecord {
  /** Epoch ms. Records of the customer written to Kafka at or before it are dropped wherever they are consumed. */
  erased_at_ms: number;
}

export function encodeErasureRecord(record: ErasureRecord): Buffer {
  return Buffer.from(JSON.stringify({ erased_at_ms: record.erased_at_ms }));
}

export function decodeErasureRecord(value: Buffer): ErasureRecord | undefined {
  try {
    const parsed = JSON.parse(value.toString('utf8')) as { erased_at_ms?: unknown };
    return typeof parsed.erased_at_ms === 'number' && Number.isFinite(parsed.erased_at_ms) ? { erased_at_ms: parsed.erased_at_ms } : undefined;
  } catch {
    return undefined;
  }
}
