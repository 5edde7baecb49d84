// Sentiment of a touchpoint's text (a survey comment, or a chat/email/transcript snippet in `text`) when the
// caller sent no number: wink-sentiment (AFINN-165 lexicon with negation, two-word phrases, emoji and
// emoticons) runs in-process, offline, deterministically — no model to download, the same text always scores
// the same. Both the processor (weak signals) and the sink (the stored row) call it, so both agree without
// one having to tell the other. Measured on tools/cli/src/quality/sentiment-set.tsv by `./touchstream quality
// sentiment` (README "Text sentiment"); docs/architecture.md §20.
import winkSentiment from 'wink-sentiment';
import type { TouchpointEvent } from './generated.ts';

/** Where a touchpoint's sentiment came from: sent by the caller, derived from its text, or none. */
export type SentimentSource = 'given' | 'derived';

/** Classification used by the quality command and the docs: a score in (−0.1, 0.1) reads as neutral. */
export const NEUTRAL_BAND = 0.1;

/**
 * −1 … 1 for a text, or null when the text is empty. wink's normalised score (about −5 … 5: mean valence of the
 * scored words, adjusted for length) is squashed by tanh(x/2): one mildly negative word (−1) gives −0.46, a
 * strong one (−3, "terrible") −0.91, so the negative_sentiment threshold (−0.5) needs more than a mild word.
 */
export function scoreText(text: string): number | null {
  if (text.trim() === '') return null;
  const { normalizedScore } = winkSentiment(text);
  if (!Number.isFinite(normalizedScore)) return null;
  return Math.round(Math.tanh(normalizedScore / 2) * 1000) / 1000;
}

/** positive | neutral | negative, by NEUTRAL_BAND. */
export function sentimentClass(score: number): 'positive' | 'neutral' | 'negative' {
  return score >= NEUTRAL_BAND ? 'positive' : score <= -NEUTRAL_BAND ? 'negative' : 'neutral';
}

/** The text a touchpoint carries: `text` first, else the survey comment; null when neither has any. */
export function textOf(event: Pick<TouchpointEvent, 'text' | 'survey'>): string | null {
  for (const t of [event.text, event.survey?.comment]) if (t != null && t.trim() !== '') return t;
  return null;
}

/**
 * The touchpoint's sentiment and where it came from: the caller's number wins; without one, its text is
 * scored (a text without any word of the lexicon scores 0); without text, none.
 */
export function sentimentOf(event: Pick<TouchpointEvent, 'sentiment' | 'text' | 'survey'>): { sentiment: number | null; source: SentimentSource | null } {
  if (event.sentiment !== null && Number.isFinite(event.sentiment)) return { sentiment: event.sentiment, source: 'given' };
  const text = textOf(event);
  const derived = text === null ? null : scoreText(text);
  return derived === null ? { sentiment: null, source: null } : { sentiment: derived, source: 'derived' };
}
