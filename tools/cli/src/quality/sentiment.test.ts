import { describe, expect, it } from 'vitest';
import { loadSentimentSet, measureSentiment, parseSentimentSet, sentimentLabels } from './sentiment.ts';

describe('the labelled sentiment set', () => {
  it('has at least 200 texts, every label and channel, no duplicates', () => {
    const set = loadSentimentSet();
    expect(set.length).toBeGreaterThanOrEqual(200);
    for (const label of sentimentLabels) expect(set.filter((t) => t.label === label).length, label).toBeGreaterThanOrEqual(50);
    expect(new Set(set.map((t) => t.channel))).toEqual(new Set(['chat', 'email', 'phone', 'survey']));
    expect(new Set(set.map((t) => t.text)).size).toBe(set.length);
  });

  it('names the line of a malformed entry', () => {
    expect(() => parseSentimentSet('# c\npositive\tchat\tok\nhappy\tchat\tyes\n')).toThrow(/^line 3: /);
  });
});

describe('measureSentiment', () => {
  it('counts a hand-worked confusion matrix, precision and recall', () => {
    const set = parseSentimentSet(['positive\tchat\tp1', 'positive\tchat\tp2', 'neutral\temail\tn1', 'negative\temail\tx1', 'negative\temail\tx2'].join('\n'));
    const scores: Record<string, number> = { p1: 0.5, p2: 0, n1: 0.05, x1: -0.3, x2: 0.2 };
    const q = measureSentiment(set, (t) => scores[t]!);
    expect(q.confusion).toEqual({
      positive: { positive: 1, neutral: 1, negative: 0 },
      neutral: { positive: 0, neutral: 1, negative: 0 },
      negative: { positive: 1, neutral: 0, negative: 1 },
    });
    expect(q.accuracy).toBe(3 / 5);
    expect(q.perClass.positive).toEqual({ precision: 1 / 2, recall: 1 / 2, support: 2 });
    expect(q.perClass.neutral).toEqual({ precision: 1 / 2, recall: 1, support: 1 });
    expect(q.perChannel).toEqual({ chat: { texts: 2, accuracy: 0.5 }, email: { texts: 3, accuracy: 2 / 3 } });
    expect(q.mistakes.map((m) => m.text)).toEqual(['p2', 'x2']);
  });

  it('the shipped scorer reads the set at the accuracy the README states (81.9%), so a change of library or mapping shows', () => {
    const q = measureSentiment(loadSentimentSet());
    expect(q.correct).toBe(177);
    expect(q.texts).toBe(216);
  });
});
