// `touchstream bench pipeline`: end-to-end throughput and latency on the embedded stack (issue 13). Placeholder.
import { Command } from 'commander';

export function pipelineBenchCommand(): Command {
  return new Command('pipeline').description('End-to-end pipeline benchmark (not written yet)').action(() => {
    console.error('not written yet');
    process.exit(2);
  });
}
