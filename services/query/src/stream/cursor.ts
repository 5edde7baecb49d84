// SSE event ids are Kafka positions: for every partition of alerts.v1, the offset the client has read up
// to (exclusive), e.g. `0:15,1:0,2:7`. Any query instance can resume from any other's id, because the id
// names the position in the topic, not in one process's memory.
export type Cursor = Map<number, number>;

export function encodeCursor(cursor: Cursor): string {
  return [...cursor].sort(([a], [b]) => a - b).map(([p, o]) => `${p}:${o}`).join(',');
}

/** The cursor of an id this stream sent; undefined when the text is not one. */
export function decodeCursor(text: string): Cursor | undefined {
  const cursor: Cursor = new Map();
  if (text.length > 4096) return undefined;
  for (const part of text.split(',')) {
    const m = /^(\d{1,5}):(\d{1,16})$/.exec(part.trim());
    if (!m) return undefined;
    const offset = Number(m[2]);
    if (!Number.isSafeInteger(offset)) return undefined;
    cursor.set(Number(m[1]), offset);
  }
  return cursor.size > 0 ? cursor : undefined;
}
