export { dashboardPlugin } from './plugin.ts';
