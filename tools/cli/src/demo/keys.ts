// The keys `up` configures for the demo (unless WRITE_KEYS / READ_KEYS say otherwise): the demo traffic,
// the benchmarks and the printed curl lines use them.
export const DEMO_WRITE_KEY = 'demo-write-key';
export const DEMO_READ_KEY = 'demo-read-key';
/** Reads too, and may post annotations (ANALYST_WRITE_KEYS). */
export const DEMO_ANALYST_WRITE_KEY = 'demo-analyst-key';
