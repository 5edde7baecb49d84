// `touchstream bench sink|processor`: one stage alone, draining a pre-filled topic (issue 13). Placeholder.
import { Command } from 'commander';

export function stageBenchCommand(stage: 'sink' | 'processor'): Command {
  return new Command(stage).description(`The ${stage} alone from a pre-filled topic (not written yet)`).action(() => {
    console.error('not written yet');
    process.exit(2);
  });
}
