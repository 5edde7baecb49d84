// The keys `up` configures for the demo (unless WRITE_KEYS / READ_KEYS say otherwise): the demo traffic,
// the benchmarks and the printed curl lines use them.
export const DEMO_WRITE_KEY = 'demo-write-key';
export const DEMO_READ_KEY = 'demo-read-key';
/** Reads too, and may post annotations (ANALYST_WRITE_KEYS). */
export const DEMO_ANALYST_WRITE_KEY = 'demo-analyst-key';
/** Erases and exports customers (ADMIN_KEY); with the demo's privacy secret below. */
export const DEMO_ADMIN_KEY = 'demo-admin-key-0001';
/** Keys the hashes of erased customers (PRIVACY_SECRET). A demo value: a deployment sets its own. */
export const DEMO_PRIVACY_SECRET = 'demo-privacy-secret-not-for-production';
