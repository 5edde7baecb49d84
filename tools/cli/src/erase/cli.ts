// `touchstream erase --customer <id> | --file ids.txt`: erase customers everywhere (README: Privacy).
import { Command } from 'commander';
import { environment } from '@touchstream/app';
import { progressBar } from '../progress.ts';
import { eraseCustomers, readIdsFile } from './erase.ts';

export function eraseCommand(): Command {
  return new Command('erase')
    .description('Erase customers from every store (Redis, ClickHouse; recorded in erasures.v1 so Kafka replays drop them)')
    .option('--customer <id>', 'one customer_id (as the client sent it), repeatable', (v: string, all: string[] = []) => [...all, v])
    .option('--file <ids.txt>', 'a file of customer ids, one per line (# comments and blank lines ignored)')
    .option('--url <url>', 'base URL of the process running the query target', 'http://127.0.0.1:8080')
    .option('--key <admin key>', 'the admin key (default: ADMIN_KEY)', environment().ADMIN_KEY)
    .action(async (flags: { customer?: string[]; file?: string; url: string; key?: string }) => {
      const ids = [...(flags.customer ?? []), ...(flags.file ? readIdsFile(flags.file) : [])];
      if (ids.length === 0) {
        console.error('✖ name customers to erase: --customer <id> (repeatable) or --file ids.txt');
        process.exitCode = 2;
        return;
      }
      if (!flags.key) {
        console.error('✖ no admin key: pass --key or set ADMIN_KEY (the one the server runs with)');
        process.exitCode = 2;
        return;
      }
      const bar = progressBar('erasing [{bar}] {percentage}% · {value}/{total} customers');
      bar.start(ids.length, 0);
      const summary = await eraseCustomers(ids, { url: flags.url, adminKey: flags.key, onProgress: (done) => bar.update(done) }).finally(() => bar.stop());
      console.log(`erased ${summary.erased} of ${ids.length} customer(s)${summary.alreadyErased ? ` (${summary.alreadyErased} erased before)` : ''}`);
      for (const [what, n] of Object.entries(summary.removed)) console.log(`  ${what}: ${n}`);
      for (const f of summary.failed) console.error(`✖ ${f.customer}: ${f.status} ${f.message}`);
      if (summary.failed.length) {
        console.error('run the same command again after fixing the cause: erasing is idempotent');
        process.exitCode = 1;
      }
    });
}
