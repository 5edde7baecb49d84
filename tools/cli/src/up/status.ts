// The status line of `touchstream up`: how far behind each consumer group is, and whether that is growing, so an
// operator sees a pipeline falling behind before analysts do.
import { lagTotals, type LagSnapshot } from '@touchstream/kafka';

/** Whether a lag is catching up, steady or falling behind, from its first and last reading of a window. */
export function lagTrend(first: number, last: number, seconds: number): 'growing' | 'shrinking' | 'steady' {
  // A lag that moves by less than a few hundred records or 50 records/s is noise of batching, not a trend.
  const change = last - first;
  if (Math.abs(change) < 500 || seconds <= 0 || Math.abs(change) / seconds < 50) return 'steady';
  return change > 0 ? 'growing' : 'shrinking';
}

const short = (groupId: string) => groupId.replace(/^.*-(processor|sink|notifier)$/, '$1');

/**
 * `lag  processor 0 · sink 12,400 ↑ growing (+2,100/s)` from the readings of the last minute (oldest first); a group
 * whose lag is 0 shows 0. Undefined before the first reading.
 */
export function lagStatusLine(history: readonly LagSnapshot[]): string | undefined {
  const last = history.at(-1);
  if (!last) return undefined;
  const first = history[0]!;
  const seconds = (last.at - first.at) / 1000;
  const before = lagTotals(first);
  const parts: string[] = [];
  for (const [groupId, byTopic] of lagTotals(last)) {
    const now = [...byTopic.values()].reduce((a, b) => a + b, 0);
    const then = [...(before.get(groupId)?.values() ?? [])].reduce((a, b) => a + b, 0);
    const trend = lagTrend(then, now, seconds);
    const rate = seconds > 0 ? Math.round((now - then) / seconds) : 0;
    const detail = trend === 'steady' ? '' : ` ${trend === 'growing' ? '↑' : '↓'} ${trend} (${rate > 0 ? '+' : ''}${rate.toLocaleString('en')}/s)`;
    parts.push(`${short(groupId)} ${now.toLocaleString('en')}${detail}`);
  }
  return `lag  ${parts.join(' · ')}`;
}
