// `./touchstream stack` (or `tsx tools/cli/src/stack/cli.ts`): starts the local engines, prints their
// endpoints as environment lines on stdout (progress goes to stderr, so `eval` works), and stops them on
// Ctrl-C or SIGTERM.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { environment } from '@touchstream/app';
import { checkPrerequisites, repoRoot, startStack, type Stack } from '@touchstream/stack';

const HELP = `Usage: touchstream stack [--dir <dir>] [--kafka-heap-mb <mb>]

Starts Kafka (KRaft), Redis and ClickHouse (embedded chDB: only a data directory is chosen) on free local
ports, prints their endpoints, and stops them on Ctrl-C / SIGTERM.

Options:
  --dir <dir>            data and logs, relative to the repository root (default: .stack/dev)
  --kafka-heap-mb <mb>   heap of the Kafka JVM (default: 512)
  -h, --help             this help

Environment: KAFKA_BROKERS, REDIS_URL, CLICKHOUSE_URL use existing services instead of starting them.
Prints:
  KAFKA_BROKERS=127.0.0.1:<port>
  REDIS_URL=redis://127.0.0.1:<port>
  CLICKHOUSE_PATH=<dir>/chdb        (or CLICKHOUSE_URL=… when given)
`;

function fail(message: string): never {
  console.error(`touchstream stack: ${message}`);
  process.exit(1);
}

let args: { dir: string; 'kafka-heap-mb'?: string; help?: boolean };
try {
  ({ values: args } = parseArgs({
    options: {
      dir: { type: 'string', default: '.stack/dev' },
      'kafka-heap-mb': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (err) {
  fail(`${(err as Error).message}\n\n${HELP}`);
}
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const heap = args['kafka-heap-mb'] === undefined ? undefined : Number(args['kafka-heap-mb']);
if (heap !== undefined && !(Number.isInteger(heap) && heap >= 128)) fail('--kafka-heap-mb must be an integer ≥ 128');

const env = environment();
const kafkaBrokers = env.KAFKA_BROKERS || undefined;
const redisUrl = env.REDIS_URL || undefined;
const missing = checkPrerequisites({ kafka: !kafkaBrokers, redis: !redisUrl });
if (missing.length) fail(`missing prerequisites:\n  - ${missing.join('\n  - ')}`);

const dir = path.resolve(repoRoot, args.dir);
let stack: Stack | undefined;
let shuttingDown = false;

// First signal: stop the engines cleanly. A second one, or one during startup, exits at once; the
// launcher's exit hook kills whatever is still running.
const onSignal = (signal: NodeJS.Signals) => {
  if (shuttingDown || !stack) {
    console.error(`\n${signal}: exiting now`);
    process.exit(130);
  }
  shuttingDown = true;
  console.error(`\n${signal}: stopping the stack…`);
  stack.stop().then(
    () => process.exit(0),
    (err: Error) => fail(err.message),
  );
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const started = Date.now();
console.error(`starting the stack in ${path.relative(process.cwd(), dir) || dir} …`);
try {
  stack = await startStack({
    dir,
    kafkaBrokers,
    redisUrl,
    clickhouseUrl: env.CLICKHOUSE_URL || undefined,
    kafkaHeapMb: heap,
    log: (line) => console.error(`  ${line}`),
  });
} catch (err) {
  fail((err as Error).message);
}
console.error(`stack ready in ${((Date.now() - started) / 1000).toFixed(1)} s; logs: ${Object.values(stack.logs).join(', ') || '—'}`);
console.log(`KAFKA_BROKERS=${stack.kafkaBrokers.join(',')}`);
console.log(`REDIS_URL=${stack.redisUrl}`);
console.log('url' in stack.clickhouse ? `CLICKHOUSE_URL=${stack.clickhouse.url}` : `CLICKHOUSE_PATH=${stack.clickhouse.path}`);
console.error('Ctrl-C stops it.');
// The child processes keep the event loop alive only through their handles; make the wait explicit.
setInterval(() => undefined, 1 << 30);
