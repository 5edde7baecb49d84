export { createPrivacyModule, privacyPlugin, type PrivacyDeps } from './module.ts';
export { eraseCustomer, storedCustomerId, tablesHoldingCustomerIds, type ErasureReport, type PrivacySettings } from './erase.ts';
export { exportCustomer } from './export.ts';
