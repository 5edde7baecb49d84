// The SETTINGS clause of every insert of ours (rows or INSERT … SELECT). Per-insert settings go into the statement's
// own SETTINGS clause: chdb/connection turns `clickhouse_settings` into session-level SET statements that outlive the
// query (docs/architecture.md §5, chDB trap 1: a later plain insert inherited the token and was dropped).
const dedupTokenPattern = /^[A-Za-z0-9._:-]+$/;

export function assertDedupToken(token: string): void {
  if (token.length === 0 || token.length > 1000 || !dedupTokenPattern.test(token)) {
    throw new Error(`invalid deduplication token ${JSON.stringify(token)}: expected 1-1000 of [A-Za-z0-9._:-]`);
  }
}

/** The SETTINGS of every insert of ours (rows or INSERT … SELECT), with or without a deduplication token. */
export function insertSettings(dedupToken?: string): string[] {
  const settings = [
    // Synchronous: the promise resolves only once the rows are written (chDB enables async_insert by default,
    // and a server profile may too), so a caller may commit Kafka offsets afterwards.
    'async_insert = 0',
    // A batch of backfilled events may span more monthly partitions than the default limit of 100; refusing
    // it would stall the partition forever.
    'throw_on_max_partitions_per_insert_block = 0',
  ];
  if (dedupToken === undefined) {
    // Non-replicated tables with a deduplication window would otherwise drop a plain insert whose data
    // happens to hash like a recent one.
    settings.push('insert_deduplicate = 0');
  } else {
    assertDedupToken(dedupToken);
    settings.push(
      'insert_deduplicate = 1',
      // The pattern already excludes quotes and backslashes; the literal needs no further escaping.
      `insert_deduplication_token = '${dedupToken}'`,
      // Trap 2: without this a retried insert deduplicated in the table still reached its views again (no table
      // of ours has views since migration 006; kept for a view a deployment adds).
      'deduplicate_blocks_in_dependent_materialized_views = 1',
    );
  }
  return settings;
}

