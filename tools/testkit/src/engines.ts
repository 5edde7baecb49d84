// The run's one stack (started by global-setup.ts), as each test file sees it.
import { inject } from 'vitest';

export interface SharedEngines {
  kafkaBrokers: string[];
  redisUrl: string;
  clickhouseUrl: string | null;
}

export function sharedEngines(): SharedEngines {
  return { kafkaBrokers: inject('kafkaBrokers'), redisUrl: inject('redisUrl'), clickhouseUrl: inject('clickhouseUrl') };
}
