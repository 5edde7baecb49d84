// The dashboard as a runtime module: it registers the static page on the process's one HTTP server. It has no
// state of its own; the composition root runs it with the query target, whose API it calls.
import type { Module } from '@touchstream/runtime';
import { dashboardPlugin } from './plugin.ts';

export function createDashboardModule(): Module {
  return {
    name: 'dashboard',
    deps: [],
    async init(ctx) {
      await ctx.http.register(dashboardPlugin);
      return {
        async start() {},
        async stop() {},
        ready: () => ({ ready: true }),
      };
    },
  };
}
