// Live churn scoring in the processor (docs/architecture.md §22): once per customer per batch, from the state
// fields the apply script returned with its reply (no extra Redis read), with the model in force. Decides the
// band, the churn_risk alert when the customer enters the alert band, and what to remember in the state hash.
import { createHash } from 'node:crypto';
import type { Alert, ChurnScore } from '@touchstream/contracts';
import { churnFeatures, churnMemoryFromHash, churnStateFromHash, hashFromFieldValues } from './features.ts';
import { bandRank, churnBandOf, type ChurnBand, type ChurnModel, type ChurnRules } from './model.ts';

export const CHURN_RISK = 'churn_risk';

/** The alert level of entering a band: medium → watch, high → at_risk. */
const levelOfBand: Record<ChurnBand, string> = { low: 'watch', medium: 'watch', high: 'at_risk' };

/** One customer's state fields as the apply script returned them, and whether every touchpoint of the call was a replay. */
export interface ChurnInput {
  customerId: string;
  /** HMGET of churnStateFields, in that order (false for a missing field). */
  values: ReadonlyArray<string | false | null>;
  /** All of the customer's touchpoints in this call were duplicates: a redelivered batch, whose outputs are re-emitted. */
  replay: boolean;
}

export interface ChurnOutput {
  customerId: string;
  record: ChurnScore;
  /** The churn_risk alert (also re-emitted, same id, when a replayed batch had raised it). */
  alert: Alert | null;
  /** Field/value pairs to write to the state hash; empty when nothing changed. */
  remember: string[];
}

/**
 * A score that moved less than this (one percentage point) and kept its band is not re-emitted: the analyses read
 * bands and the journey shows whole percents, and most touchpoints move a forest's output a little.
 */
const MIN_CHANGE = 0.01;

export function churnAlertIdFor(customerId: string, eventId: string, band: string): string {
  return createHash('sha1').update(`${customerId}\0churn:${eventId}\0${band}`).digest('hex').slice(0, 32);
}

const fmt = (p: number) => p.toFixed(2);

/**
 * Scores the customers in one model call; returns what to emit and remember for those whose score changed.
 * `alertAfterMicros`: a customer whose latest touchpoint is older is backfill — scored and remembered, never alerted
 * (as the weak-signal alerts, §4.5).
 */
export function scoreCustomers(model: ChurnModel, rules: ChurnRules, rulesVersion: string | null, inputs: readonly ChurnInput[], alertAfterMicros = -Infinity): ChurnOutput[] {
  const hashes = inputs.map((i) => hashFromFieldValues(i.values));
  // A customer the script knows nothing about (no touchpoint stored) has nothing to score.
  const scored = inputs.map((_, k) => k).filter((k) => typeof hashes[k]!.last_event_id === 'string');
  const probabilities = model.predict(scored.map((k) => churnFeatures(churnStateFromHash(hashes[k]!))));
  const alertRank = rules.alertBand === 'none' ? Infinity : bandRank(rules.alertBand);
  const outputs: ChurnOutput[] = [];
  scored.forEach((k, j) => {
    const input = inputs[k]!;
    const hash = hashes[k]!;
    const probability = probabilities[j]!;
    const band = churnBandOf(probability, rules.bands);
    const memory = churnMemoryFromHash(hash);
    const eventId = hash.last_event_id as string;
    const at = Number(hash.last_occurred_at);
    const changed = memory.score === null || Math.abs(memory.score - probability) >= MIN_CHANGE || memory.band !== band;
    if (!changed && !input.replay) return;
    let alert: Alert | null = null;
    const live = Number.isFinite(at) && at >= alertAfterMicros;
    const entered = live && bandRank(band) >= alertRank && bandRank(memory.band) < alertRank;
    // A replayed batch finds the band already remembered: the alert it raised is raised again with the same id.
    const again = live && input.replay && hash.churn_alert_event === eventId && bandRank(band) >= alertRank;
    if (entered || again) {
      alert = {
        alert_id: churnAlertIdFor(input.customerId, eventId, band),
        customer_id: input.customerId,
        score: probability,
        score_before: memory.score ?? 0,
        level: levelOfBand[band],
        signals: [
          {
            signal_id: churnAlertIdFor(input.customerId, eventId, `${band}:signal`),
            type: CHURN_RISK,
            weight: probability,
            event_id: eventId,
            explanation: `churn risk ${fmt(probability)} (${band}; was ${memory.score === null ? 'not scored' : `${fmt(memory.score)}, ${memory.band}`}) by churn model ${model.file.version}: probability of ${rules.outcome.reasons.concat(rules.outcome.touchpoints).join(' or ')} within ${model.file.outcome.horizon_days} d`,
          },
        ],
        triggered_by: CHURN_RISK,
        at: Number.isFinite(at) ? at : 0,
        rules_version: rulesVersion,
        journey: null,
        channel: typeof hash.last_channel === 'string' ? hash.last_channel : null,
      };
    }
    const remember = ['churn_score', String(probability), 'churn_band', band, 'churn_model', model.file.version];
    if (entered) remember.push('churn_alert_event', eventId);
    outputs.push({
      customerId: input.customerId,
      record: {
        customer_id: input.customerId,
        score: probability,
        band,
        event_id: eventId,
        scored_at: Number.isFinite(at) ? at : 0,
        model_version: model.file.version,
        rules_version: rulesVersion,
      },
      alert,
      remember,
    });
  });
  return outputs;
}
