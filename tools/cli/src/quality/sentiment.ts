// `touchstream quality sentiment`: how well the offline text scorer (packages/contracts sentiment.ts,
// wink-sentiment) reads short customer-service texts. The labelled set (sentiment-set.tsv, written for
// touchstream: calls, chats, emails, survey comments, with negation, sarcasm and plain requests) is scored
// text by text; a score is read as positive / neutral / negative by the same ±0.1 band the docs give.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { scoreText, sentimentClass } from '@touchstream/contracts';

export const sentimentLabels = ['positive', 'neutral', 'negative'] as const;
export type SentimentLabel = (typeof sentimentLabels)[number];

export interface LabelledText {
  label: SentimentLabel;
  channel: string;
  text: string;
  line: number;
}

export const sentimentSetPath = new URL('./sentiment-set.tsv', import.meta.url);

/** Reads `label<TAB>channel<TAB>text` lines; `#` lines are comments. Throws naming the line of a bad one. */
export function parseSentimentSet(tsv: string): LabelledText[] {
  const out: LabelledText[] = [];
  tsv.split('\n').forEach((raw, i) => {
    if (raw.trim() === '' || raw.startsWith('#')) return;
    const [label, channel, text, ...rest] = raw.split('\t');
    if (!sentimentLabels.includes(label as SentimentLabel) || !channel || !text || rest.length) {
      throw new Error(`line ${i + 1}: expected "positive|neutral|negative<TAB>channel<TAB>text", got ${JSON.stringify(raw.slice(0, 80))}`);
    }
    out.push({ label: label as SentimentLabel, channel, text, line: i + 1 });
  });
  return out;
}

export function loadSentimentSet(file: URL | string = sentimentSetPath): LabelledText[] {
  return parseSentimentSet(readFileSync(file, 'utf8'));
}

export interface SentimentQuality {
  texts: number;
  correct: number;
  accuracy: number;
  /** confusion[actual][predicted] */
  confusion: Record<SentimentLabel, Record<SentimentLabel, number>>;
  perClass: Record<SentimentLabel, { precision: number | null; recall: number | null; support: number }>;
  /** Accuracy per channel of the set (chat, email, phone, survey). */
  perChannel: Record<string, { texts: number; accuracy: number }>;
  mistakes: Array<LabelledText & { predicted: SentimentLabel; score: number }>;
}

/** Scores every text with `score` (the scorer in force by default) and compares the class with the label. */
export function measureSentiment(set: readonly LabelledText[], score: (text: string) => number | null = scoreText): SentimentQuality {
  const zero = () => Object.fromEntries(sentimentLabels.map((l) => [l, 0])) as Record<SentimentLabel, number>;
  const confusion = Object.fromEntries(sentimentLabels.map((l) => [l, zero()])) as SentimentQuality['confusion'];
  const channels = new Map<string, { texts: number; correct: number }>();
  const mistakes: SentimentQuality['mistakes'] = [];
  let correct = 0;
  for (const item of set) {
    const s = score(item.text) ?? 0;
    const predicted = sentimentClass(s);
    confusion[item.label][predicted]++;
    const c = channels.get(item.channel) ?? { texts: 0, correct: 0 };
    c.texts++;
    if (predicted === item.label) {
      correct++;
      c.correct++;
    } else {
      mistakes.push({ ...item, predicted, score: s });
    }
    channels.set(item.channel, c);
  }
  const perClass = Object.fromEntries(sentimentLabels.map((l) => {
    const support = sentimentLabels.reduce((n, p) => n + confusion[l][p], 0);
    const predicted = sentimentLabels.reduce((n, a) => n + confusion[a][l], 0);
    return [l, { precision: predicted ? confusion[l][l] / predicted : null, recall: support ? confusion[l][l] / support : null, support }];
  })) as SentimentQuality['perClass'];
  return {
    texts: set.length,
    correct,
    accuracy: set.length ? correct / set.length : 0,
    confusion,
    perClass,
    perChannel: Object.fromEntries([...channels].map(([ch, c]) => [ch, { texts: c.texts, accuracy: c.correct / c.texts }])),
    mistakes,
  };
}

const pct = (x: number | null) => (x === null ? '   –' : `${(100 * x).toFixed(1)}%`.padStart(6));

export function formatSentimentQuality(q: SentimentQuality): string {
  const w = 10;
  const lines = [
    `Text sentiment (wink-sentiment, offline) on ${q.texts} labelled customer-service texts`,
    `accuracy ${(100 * q.accuracy).toFixed(1)}% (${q.correct}/${q.texts}); a score ≥ 0.1 reads positive, ≤ −0.1 negative, between neutral`,
    '',
    'confusion (rows: label, columns: predicted)',
    `${''.padEnd(w)}${sentimentLabels.map((l) => l.padStart(w)).join('')}${'recall'.padStart(w)}`,
    ...sentimentLabels.map((a) => `${a.padEnd(w)}${sentimentLabels.map((p) => String(q.confusion[a][p]).padStart(w)).join('')}${pct(q.perClass[a].recall).padStart(w)}`),
    `${'precision'.padEnd(w)}${sentimentLabels.map((p) => pct(q.perClass[p].precision).padStart(w)).join('')}`,
    '',
    `per channel: ${Object.entries(q.perChannel).map(([ch, c]) => `${ch} ${(100 * c.accuracy).toFixed(1)}% (${c.texts})`).join(', ')}`,
  ];
  return lines.join('\n');
}

export function sentimentQualityCommand(): Command {
  return new Command('sentiment')
    .description('Measure the offline text-sentiment scorer on the labelled set the project ships: accuracy and confusion matrix; exits 1 below --min-accuracy')
    .option('--set <file>', 'labelled texts, label<TAB>channel<TAB>text per line', sentimentSetPath.pathname)
    .option('--min-accuracy <fraction>', 'exit 1 when the accuracy is lower', '0.75')
    .option('--mistakes', 'list every text read wrongly, with its score')
    .action((flags: { set: string; minAccuracy: string; mistakes?: boolean }) => {
      const min = Number(flags.minAccuracy);
      if (!(min >= 0 && min <= 1)) {
        console.error('✖ --min-accuracy must be a fraction between 0 and 1 (see touchstream quality sentiment --help)');
        process.exit(2);
      }
      let set: LabelledText[];
      try {
        set = loadSentimentSet(flags.set);
      } catch (err) {
        console.error(`✖ cannot read the labelled set ${flags.set}: ${(err as Error).message}`);
        process.exit(2);
      }
      const q = measureSentiment(set);
      console.log(formatSentimentQuality(q));
      if (flags.mistakes) {
        console.log('\nread wrongly:');
        for (const m of q.mistakes) console.log(`  ${m.label} → ${m.predicted} (${m.score}) [${m.channel}] ${m.text}`);
      } else if (q.mistakes.length) {
        console.log(`(--mistakes lists the ${q.mistakes.length} texts read wrongly)`);
      }
      if (q.accuracy < min) {
        console.log(`\n✖ accuracy ${(100 * q.accuracy).toFixed(1)}% is below --min-accuracy ${min}`);
        process.exit(1);
      }
    });
}
