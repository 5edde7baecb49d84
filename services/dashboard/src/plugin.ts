// The analysts' dashboard: a static single-page app served by the query target at /dashboard/ (and / redirects
// there). It calls the same query API as everyone else, with the analyst's read key, so it shows nothing the
// API would not; there is no server-side state and no build step (plain ES modules; ECharts for the charts,
// served from node_modules so the page never asks another host for anything; docs/architecture.md §19).
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { publicRoutes } from '@touchstream/runtime';

const publicDir = path.resolve(import.meta.dirname, '../public');
const echartsDir = path.dirname(createRequire(import.meta.url).resolve('echarts/dist/echarts.min.js'));

// The page and its files are public (they hold no data); every API call it makes needs the read key the analyst
// types in. The process's content security policy (no inline script or style) covers these files.
export const dashboardPlugin: FastifyPluginAsync = async (app) => {
  await app.register(publicRoutes(fastifyStatic, { root: publicDir, prefix: '/dashboard/', index: 'index.html' }));
  await app.register(publicRoutes(fastifyStatic, {
    root: echartsDir,
    prefix: '/dashboard/vendor/',
    decorateReply: false,
    allowedPath: (p: string) => p === '/echarts.min.js',
  }));
  app.get('/', { schema: { hide: true }, config: { role: 'public' } }, (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard', { schema: { hide: true }, config: { role: 'public' } }, (_req, reply) => reply.redirect('/dashboard/'));
};
