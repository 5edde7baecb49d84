#!/usr/bin/env python3
"""Writes deploy/clickhouse-cluster/schema.sql: the final state of packages/clickhouse/migrations for a fresh
ClickHouse cluster (Replicated* `<name>_local` tables, Distributed `<name>` tables, views on the local tables).
Run from the repository root after adding a migration; extend the folding of ALTERs below when a new one alters."""
import re

def statements(sql):
    sql = '\n'.join(l for l in sql.split('\n') if not l.strip().startswith('--'))
    return [p.strip() for p in re.split(r';[ \t]*$', sql, flags=re.M) if p.strip()]

s1 = statements(open('packages/clickhouse/migrations/001_initial.sql').read())
s2 = statements(open('packages/clickhouse/migrations/002_rollups.sql').read())
s3 = statements(open('packages/clickhouse/migrations/003_insert_token.sql').read())
s4 = statements(open('packages/clickhouse/migrations/004_kpi_dimensions.sql').read())
s5 = statements(open('packages/clickhouse/migrations/005_view_feeds.sql').read())

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

# Fold 003's new columns of the raw tables into their CREATE statements, before stored_at (the column order is
# not the single node's, where ADD COLUMN appends; nothing reads or writes these tables by position).
for x in s3:
    m = re.match(r'ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS (\w+) (.*)$', x, re.S)
    if not m:
        raise SystemExit('unhandled statement in 003: ' + x[:80])
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

# 005: the feed tables (Null engine, the raw table's columns) and the views' final bodies, reading the feeds.
feeds = {}
for x in s5:
    m = re.match(r'CREATE TABLE IF NOT EXISTS (\w+) AS (\w+) ENGINE = Null$', x)
    if m:
        feeds[m.group(1)] = m.group(2)
        continue
    m = re.match(r'ALTER TABLE (\w+) MODIFY QUERY\n(.*)$', x, re.S)
    if not m:
        raise SystemExit('unhandled statement in 005: ' + x[:80])
    view, body = m.groups()
    i = next(i for i, y in enumerate(final) if y.startswith(f'CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO '))
    final[i] = final[i].split(' AS\n', 1)[0] + ' AS\n' + body

# A customer's rows stay on one shard: per-customer FINAL, FCR look-ahead and activity stay shard-local.
shard_keys = {name: 'cityHash64(customer_id)' for name in ('touchpoints', 'signals', 'alerts', 'customer_activity_1d', 'fcr_contacts')}
shard_keys['annotations'] = 'cityHash64(annotation_id)'

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
                   f"ENGINE = Distributed('{{cluster}}', currentDatabase(), {name}_local, {shard_keys.get(name, 'rand()')})")
        for feed in (f for f, source in feeds.items() if source == name):
            # The sink inserts into the Distributed feed after the raw table; each shard's views run on its local feed.
            out.append(f"CREATE TABLE IF NOT EXISTS {feed}_local ON CLUSTER '{{cluster}}' AS {name}_local\nENGINE = Null")
            out.append(f"CREATE TABLE IF NOT EXISTS {feed} ON CLUSTER '{{cluster}}' AS {feed}_local\n"
                       f"ENGINE = Distributed('{{cluster}}', currentDatabase(), {feed}_local, {shard_keys[name]})")
        continue
    m = re.match(r'CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+) AS\n(.*)$', x, re.S)
    if m:
        name, target, body = m.groups()
        body = re.sub(r'\nFROM (\w+)\n', lambda mm: f'\nFROM {mm.group(1)}_local\n', body)
        out.append(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {name} ON CLUSTER '{{cluster}}' TO {target}_local AS\n{body}")
        continue
    raise SystemExit('unhandled statement: ' + x[:80])

header = open('deploy/clickhouse-cluster/header.sql').read()
open('deploy/clickhouse-cluster/schema.sql', 'w').write(header + '\n' + ';\n\n'.join(out) + ';\n')
