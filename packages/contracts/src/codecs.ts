import { codecFor } from './avro.ts';
import type { TouchpointEvent, Signal, Alert, DeadLetter, ChurnScore, CustomerProfile } from './generated.ts';

/** The codecs of the contracts on Kafka (docs/architecture.md §3; churn scores §22, profiles §20.6). */
export const codecs = {
  touchpoint: codecFor<TouchpointEvent>('touchpoint.avsc'),
  signal: codecFor<Signal>('signal.avsc'),
  alert: codecFor<Alert>('alert.avsc'),
  deadLetter: codecFor<DeadLetter>('dead-letter.avsc'),
  churnScore: codecFor<ChurnScore>('churn-score.avsc'),
  /** Customer profile updates on profiles.v1 (§20.6). */
  profile: codecFor<CustomerProfile>('profile.avsc'),
};
