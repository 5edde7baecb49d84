#!/usr/bin/env python3
"""Writes deploy/clickhouse-cluster/schema.sql: the final state of packages/clickhouse/migrations for a fresh
ClickHouse cluster (Replicated* `<name>_local` tables, Distributed `<name>` tables; no views since 006).
Run from the repository root after adding a migration; extend the folding of ALTERs below when a new one alters."""
import re

def statements(sql):
    sql = '\n'.join(l for l in sql.split('\n') if not l.strip().startswith('--'))
    return [p.strip() for p in re.split(r';[ \t]*$', sql, flags=re.M) if p.strip()]

s1 = statements(open('packages/clickhouse/migrations/001_initial.sql').read())
s2 = statements(open('packages/clickhouse/migrations/002_rollups.sql').read())
s3 = statements(open('packages/clickhouse/migrations/003_insert_token.sql').read())
s4 = statements(open('packages/clickhouse/migrations/004_kpi_dimensions.sql').read())
s6 = statements(open('packages/clickhouse/migrations/006_direct_rollups.sql').read())
s7 = statements(open('packages/clickhouse/migrations/007_customer_erasures.sql').read())
s9 = statements(open('packages/clickhouse/migrations/009_touchpoint_text_sentiment.sql').read())
s10 = statements(open('packages/clickhouse/migrations/010_customer_profiles.sql').read())
s11 = statements(open('packages/clickhouse/migrations/011_churn_scores.sql').read())

# Fold 002's ALTERs of 001's objects into their CREATE statements.
mv_1m = next(x for x in s2 if x.startswith('ALTER TABLE touchpoint_agg_1m_mv MODIFY QUERY'))
new_columns = [re.search(r'ADD COLUMN IF NOT EXISTS (.*)$', x, re.S).group(1) for x in s2 if 'ADD COLUMN' in x]
final = []
for x in s1:
    if x.startswith('CREATE TABLE IF NOT EXISTS touchpoint_agg_1m'):
        last = '    ces_score_sum       AggregateFunction(sum, Int64)\n)'
        assert last in x
        x = x.replace(last, last[:-2] + ',\n' + ',\n'.join('    ' + c for c in new_columns) + '\n)')
    if x.startswith('CREATE MATERIALIZED VIEW IF NOT EXISTS touchpoint_agg_1m_mv'):
        x = 'CREATE MATERIALIZED VIEW IF NOT EXISTS touchpoint_agg_1m_mv TO touchpoint_agg_1m AS\n' + mv_1m.split('MODIFY QUERY', 1)[1].strip()
    final.append(x)
ttl = None
for x in s2:
    if x.startswith('ALTER TABLE touchpoint_agg_1m'):
        continue
    if x.startswith('ALTER TABLE touchpoints MODIFY TTL'):
        ttl = x.split('MODIFY ', 1)[1]
        continue
    final.append(x)

# Fold 003's and 009's new columns of the raw tables into their CREATE statements, before stored_at (the column
# order is not the single node's, where ADD COLUMN appends; nothing reads or writes these tables by position).
for x in s3 + s9:
    m = re.match(r'ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS (\w+) (.*)$', x, re.S)
    if not m:
        raise SystemExit('unhandled statement in 003/009: ' + x[:80])
    table, column, definition = m.groups()
    i = next(i for i, y in enumerate(final) if y.startswith(f'CREATE TABLE IF NOT EXISTS {table}\n'))
    anchor = '\n    stored_at '
    assert final[i].count(anchor) == 1, f'{table}: no stored_at column to place {column} before'
    final[i] = final[i].replace(anchor, f'\n    {column:<15} {definition},{anchor}')

# 004's tables and views as they are; its backfill (the mark and the copies from raw) has nothing to copy on a
# fresh cluster.
for x in s4:
    if x.startswith('INSERT INTO') or x.startswith('CREATE TABLE IF NOT EXISTS migration_marks\n'):
        continue
    final.append(x)

# 005 only redirected the views to feeds, and 006 drops the views and the feeds: the sink writes every rollup
# itself. What 006 drops is left out.
dropped = set()
for x in s6:
    m = re.match(r'DROP (?:VIEW|TABLE) IF EXISTS (\w+)$', x)
    if not m:
        raise SystemExit('unhandled statement in 006: ' + x[:80])
    dropped.add(m.group(1))
def created(x):
    m = re.match(r'CREATE (?:MATERIALIZED VIEW|TABLE) IF NOT EXISTS (\w+)', x)
    return m and m.group(1)
missing = dropped - {created(x) for x in final}
if missing - {'touchpoints_feed', 'signals_feed'}:
    raise SystemExit('006 drops what no migration creates: ' + ', '.join(sorted(missing)))
final = [x for x in final if created(x) not in dropped]
# 007: the erasure audit log, as it is; 010: the profile tables, as they are.
final.extend(s7)
final.extend(s10)
# 011: the live churn-risk scores, as they are.
final.extend(s11)
if any(x.startswith('CREATE MATERIALIZED VIEW') for x in final):
    raise SystemExit('a view is left: write how the cluster computes it')

# A customer's rows stay on one shard: per-customer FINAL, FCR look-ahead and activity stay shard-local.
shard_keys = {name: 'cityHash64(customer_id)' for name in ('touchpoints', 'signals', 'alerts', 'customer_activity_1d', 'fcr_contacts', 'churn_scores', 'profile_updates', 'customer_profiles')}
shard_keys['annotations'] = 'cityHash64(annotation_id)'
# Every other table (the rollups) by a hash of its sorting key: a retried insert through the Distributed table must
# send each row to the same shard as the first time, where that shard's replicated table deduplicates it by the token.

def sort_key_hash(rest):
    m = re.search(r'^ORDER BY \(?([^)\n]*)\)?$', rest, re.M)
    assert m, 'no ORDER BY in ' + rest
    return f'cityHash64({m.group(1)})'

out = []
for x in final:
    m = re.match(r'CREATE TABLE IF NOT EXISTS (\w+)\n(\(.*\))\nENGINE = (\w+)(\([^)]*\))?\n(.*)$', x, re.S)
    if m:
        name, columns, engine, args, rest = m.groups()
        args = (args or '()')[1:-1]
        path = f"'/clickhouse/tables/{{shard}}/{{database}}/{name}', '{{replica}}'"
        # Replicated tables deduplicate inserts themselves (replicated_deduplication_window).
        rest = re.sub(r'\nSETTINGS non_replicated_deduplication_window = 1000$', '', rest)
        if name == 'touchpoints':
            rest += '\n' + ttl
        out.append(f"CREATE TABLE IF NOT EXISTS {name}_local ON CLUSTER '{{cluster}}'\n{columns}\n"
                   f"ENGINE = Replicated{engine}({path}{', ' + args if args else ''})\n{rest}")
        out.append(f"CREATE TABLE IF NOT EXISTS {name} ON CLUSTER '{{cluster}}' AS {name}_local\n"
                   f"ENGINE = Distributed('{{cluster}}', currentDatabase(), {name}_local, {shard_keys.get(name) or sort_key_hash(rest)})")
        continue
    raise SystemExit('unhandled statement: ' + x[:80])

header = open('deploy/clickhouse-cluster/header.sql').read()
open('deploy/clickhouse-cluster/schema.sql', 'w').write(header + '\n' + ';\n\n'.join(out) + ';\n')
