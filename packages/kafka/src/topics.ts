import type { Admin, ITopicConfig } from 'kafkajs';

/** The project's topics (docs/architecture.md §3). */
export const topicNames = {
  touchpoints: 'touchpoints.v1',
  invalid: 'touchpoints.invalid.v1',
  signals: 'signals.v1',
  alerts: 'alerts.v1',
  /** Customer profile updates (schemas/profile.avsc), keyed by customer_id: ingest → sink (§20.6). */
  profiles: 'profiles.v1',
  /** Poison records met by consumers (could not be decoded or processed). */
  deadLetters: 'deadletters.v1',
  /** Erased customers, keyed by a keyed hash of the id (never the id): compacted, read whole by every consumer (§14). */
  erasures: 'erasures.v1',
  /** Live churn-risk scores (§22), keyed by customer: processor → sink (churn_scores). */
  churnScores: 'churn_scores.v1',
} as const;

export interface TopicLayout {
  /** Partitions of touchpoints.v1: the unit of processor/sink parallelism. */
  touchpointPartitions: number;
  /** Partitions of the other topics. */
  otherPartitions: number;
  replicationFactor: number;
  /** min.insync.replicas: with acks=all, how many replicas must have a write before it is acknowledged. */
  minInsyncReplicas: number;
}

export const defaultTopicLayout: TopicLayout = {
  touchpointPartitions: 12,
  otherPartitions: 6,
  replicationFactor: 1,
  minInsyncReplicas: 1,
};

export function topicSpecs(layout: TopicLayout = defaultTopicLayout): ITopicConfig[] {
  const configEntries = [{ name: 'min.insync.replicas', value: String(layout.minInsyncReplicas) }];
  const spec = (topic: string, numPartitions: number): ITopicConfig => ({
    topic,
    numPartitions,
    replicationFactor: layout.replicationFactor,
    configEntries,
  });
  return [
    spec(topicNames.touchpoints, layout.touchpointPartitions),
    spec(topicNames.invalid, layout.otherPartitions),
    spec(topicNames.signals, layout.otherPartitions),
    spec(topicNames.alerts, layout.otherPartitions),
    spec(topicNames.profiles, layout.otherPartitions),
    spec(topicNames.deadLetters, layout.otherPartitions),
    spec(topicNames.churnScores, layout.otherPartitions),
    // Compacted: the latest erasure of each key is kept for ever (a replay from offset 0 must still meet it).
    // One partition: every process reads it whole, and erasures are rare.
    {
      topic: topicNames.erasures,
      numPartitions: 1,
      replicationFactor: layout.replicationFactor,
      configEntries: [...configEntries, { name: 'cleanup.policy', value: 'compact' }],
    },
  ];
}

/** Creates the missing topics; existing ones are left as they are (idempotent, safe from several processes). */
export async function ensureTopics(admin: Admin, specs: ITopicConfig[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.topic));
  if (missing.length === 0) return [];
  try {
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  } catch (err) {
    // Another process may have created them between list and create.
    if (!/already exists/i.test(String((err as Error).message))) throw err;
  }
  return missing.map((s) => s.topic);
}
