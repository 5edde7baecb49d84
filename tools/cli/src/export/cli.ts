// `touchstream export`: incremental BI extracts (CSV or Parquet) into a directory; see export.ts for the cursor.
import { Command, Option } from 'commander';
import { environment } from '@touchstream/app';
import { createClickHouse } from '@touchstream/clickhouse';
import { progressBar } from '../progress.ts';
import { EXPORT_DATASETS, runExport, STATE_FILE, type ExportDataset, type ExportFormat } from './export.ts';

interface ExportFlags {
  out: string;
  format: ExportFormat;
  datasets: string;
  settleSeconds: string;
  clickhouseUrl?: string;
  clickhousePath: string;
  clickhouseUser?: string;
  clickhousePassword?: string;
  clickhouseDatabase?: string;
}

function fail(message: string): void {
  console.error(`export: ${message}`);
  process.exitCode = 2;
}

export function exportCommand(): Command {
  const env = environment();
  return new Command('export')
    .description('Write KPI totals, hourly KPI rollups and raw touchpoints as CSV or Parquet files, incrementally: each run writes only what was stored since the last run into the same directory')
    .requiredOption('--out <dir>', `destination directory (keeps its cursor in <dir>/${STATE_FILE})`)
    .addOption(new Option('--format <format>', 'file format').choices(['csv', 'parquet']).default('csv'))
    .option('--datasets <list>', `comma list of ${EXPORT_DATASETS.join(', ')}`, EXPORT_DATASETS.join(','))
    .option('--settle-seconds <n>', 'leave rows stored in the last n seconds for the next run (inserts still becoming visible)', '30')
    .option('--clickhouse-url <url>', 'a ClickHouse server (default CLICKHOUSE_URL); without one, the embedded chDB directory', env.CLICKHOUSE_URL)
    .option('--clickhouse-path <dir>', 'embedded chDB directory (default CLICKHOUSE_PATH); the app must not be running on it', env.CLICKHOUSE_PATH ?? '.data/chdb')
    .option('--clickhouse-user <user>', 'server user (default CLICKHOUSE_USER)', env.CLICKHOUSE_USER)
    .option('--clickhouse-password <password>', 'server password (default CLICKHOUSE_PASSWORD)', env.CLICKHOUSE_PASSWORD)
    .option('--clickhouse-database <db>', 'server database (default CLICKHOUSE_DATABASE)', env.CLICKHOUSE_DATABASE)
    .addHelpText(
      'after',
      `
Files: <dir>/touchpoints/touchpoints_<from>_<to>.<ext> (new raw rows; key event_id),
       <dir>/rollups/rollups_<from>_<to>.<ext> (hourly KPIs of every hour a new row falls in, whole: replace rows
       with the same bucket, dimension, key), <dir>/kpis/kpis_<from>_<to>.<ext> (all-time totals as of <to>).
Late events are exported by the first run after they were stored (the cursor is on insert time, not event time).
Schedule it, e.g. cron: */15 * * * * cd /opt/touchstream && ./touchstream export --out /srv/bi --format parquet`,
    )
    .action(async (flags: ExportFlags) => {
      const datasets = flags.datasets.split(',').map((d) => d.trim()).filter(Boolean);
      const unknown = datasets.filter((d) => !(EXPORT_DATASETS as readonly string[]).includes(d));
      if (unknown.length > 0) return fail(`unknown dataset ${unknown.join(', ')}: choose from ${EXPORT_DATASETS.join(', ')}`);
      const settleSeconds = Number(flags.settleSeconds);
      if (!Number.isInteger(settleSeconds) || settleSeconds < 0) return fail('--settle-seconds must be a whole number of seconds, 0 or more');
      const client = flags.clickhouseUrl
        ? createClickHouse({ url: flags.clickhouseUrl, username: flags.clickhouseUser, password: flags.clickhousePassword, database: flags.clickhouseDatabase })
        : createClickHouse({ path: flags.clickhousePath });
      const bar = progressBar('export [{bar}] {value}/{total} {step}');
      bar.start(datasets.length, 0, { step: 'starting' });
      try {
        const result = await runExport({
          client,
          dir: flags.out,
          format: flags.format,
          datasets: datasets as ExportDataset[],
          settleSeconds,
          onProgress: (done, total, step) => bar.update(done, { step }),
        });
        bar.stop();
        if (result.files.length === 0) {
          console.log(`nothing new stored between ${result.from ?? 'the beginning'} and ${result.to} (UTC); no files written`);
        } else {
          console.log(`${result.newTouchpoints} new touchpoints stored between ${result.from ?? 'the beginning'} and ${result.to} (UTC):`);
          for (const f of result.files) console.log(`  ${f.path}  ${f.rows} rows`);
        }
      } catch (err) {
        bar.stop();
        const message = (err as Error).message;
        const hint = /UNKNOWN_TABLE|Unknown table/i.test(message)
          ? ` (no touchstream tables in ${flags.clickhouseUrl ?? flags.clickhousePath}: point --clickhouse-url or --clickhouse-path at the ClickHouse the app writes)`
          : /lock|already (in use|opened)/i.test(message) && !flags.clickhouseUrl
            ? ' (embedded chDB is one process per directory: stop the app, or point --clickhouse-url at a ClickHouse server)'
            : '';
        console.error(`export failed: ${message.split('\n')[0]}${hint}; the cursor did not move, so running it again exports the same window`);
        process.exitCode = 1;
      } finally {
        await client.close();
      }
    });
}
