// Avro codecs for the contracts in /schemas. Records on Kafka use Avro single-object encoding
// (0xC3 0x01 + 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema + body), so a reader can
// find the writer schema of every record and resolve it to its own: old consumers keep reading new records.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import avro from 'avsc';

export const schemasDir = fileURLToPath(new URL('../../../schemas/', import.meta.url));

export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SchemaError';
  }
}

const SINGLE_OBJECT_MAGIC = Buffer.from([0xc3, 0x01]);
const HEADER_BYTES = 10;

// CRC-64-AVRO ("Rabin") as given in the Avro specification.
const EMPTY_FINGERPRINT = 0xc15d213aa4d7a795n;
const MASK64 = 0xffffffffffffffffn;
const FINGERPRINT_TABLE: bigint[] = Array.from({ length: 256 }, (_, i) => {
  let fp = BigInt(i);
  for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY_FINGERPRINT & -(fp & 1n) & MASK64);
  return fp;
});

export function rabinFingerprint(text: string): bigint {
  let fp = EMPTY_FINGERPRINT;
  for (const byte of Buffer.from(text, 'utf8')) {
    fp = (fp >> 8n) ^ FINGERPRINT_TABLE[Number((fp ^ BigInt(byte)) & 0xffn)]!;
  }
  return fp;
}

/** Parsing Canonical Form: what the fingerprint is computed over (avsc's schema() without attributes). */
export function canonicalForm(type: avro.Type): string {
  return JSON.stringify(type.schema());
}

export function fingerprintOf(type: avro.Type): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(rabinFingerprint(canonicalForm(type)));
  return buf;
}

export function loadSchemaFile(file: string): avro.Schema {
  return JSON.parse(readFileSync(path.resolve(schemasDir, file), 'utf8')) as avro.Schema;
}

export interface Codec<T> {
  readonly type: avro.Type;
  readonly fingerprint: Buffer;
  encode(value: T): Buffer;
  /** Decodes a single-object-encoded record written with this schema or any known version of it. */
  decode(buf: Buffer): T;
  /** Teaches the codec an older or newer writer schema of the same record (schema evolution). */
  addWriterSchema(schema: avro.Schema): void;
}

export function createCodec<T>(schema: avro.Schema, writerHistory: avro.Schema[] = []): Codec<T> {
  const type = avro.Type.forSchema(schema);
  const fingerprint = fingerprintOf(type);
  const readers = new Map<string, (body: Buffer) => T>();
  readers.set(fingerprint.toString('hex'), (body) => type.fromBuffer(body) as T);

  const addWriterSchema = (writerSchema: avro.Schema): void => {
    const writer = avro.Type.forSchema(writerSchema);
    const key = fingerprintOf(writer).toString('hex');
    if (readers.has(key)) return;
    const resolver = type.createResolver(writer);
    readers.set(key, (body) => type.fromBuffer(body, resolver) as T);
  };
  writerHistory.forEach(addWriterSchema);

  return {
    type,
    fingerprint,
    addWriterSchema,
    encode(value: T): Buffer {
      return Buffer.concat([SINGLE_OBJECT_MAGIC, fingerprint, type.toBuffer(value)]);
    },
    decode(buf: Buffer): T {
      if (buf.length < HEADER_BYTES || buf[0] !== 0xc3 || buf[1] !== 0x01) {
        throw new SchemaError('not an Avro single-object encoded record (missing 0xC3 0x01 header)');
      }
      const key = buf.subarray(2, HEADER_BYTES).toString('hex');
      const read = readers.get(key);
      if (!read) throw new SchemaError(`unknown writer schema fingerprint ${key}`);
      try {
        return read(buf.subarray(HEADER_BYTES));
      } catch (err) {
        throw new SchemaError(`corrupt Avro body: ${(err as Error).message}`);
      }
    },
  };
}

/** Older versions of a schema live beside it as `<name>.v<N>.avsc`; all are known writers. */
function historyOf(file: string): avro.Schema[] {
  const base = file.replace(/\.avsc$/, '');
  return readdirSync(schemasDir)
    .filter((f) => f.startsWith(`${base}.v`) && f.endsWith('.avsc'))
    .map((f) => loadSchemaFile(f));
}

export function codecFor<T>(file: string): Codec<T> {
  return createCodec<T>(loadSchemaFile(file), historyOf(file));
}
