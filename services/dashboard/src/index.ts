export { dashboardPlugin } from './plugin.ts';
export { createDashboardModule } from './module.ts';
