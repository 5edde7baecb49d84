// The analysts' dashboard: a static single-page app served by the query target at /dashboard/ (and / redirects
// there). It calls the same query API as everyone else, with the analyst's read key, so it shows nothing the
// API would not; there is no server-side state and no build step (plain ES modules; uPlot for the charts).
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';
import { publicRoutes } from '@touchstream/runtime';

const publicDir = path.resolve(import.meta.dirname, '../public');
const uplotDir = path.dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));

// The page and its files are public (they hold no data); every API call it makes needs the read key the analyst
// types in. The process's content security policy (no inline script or style) covers these files.
export const dashboardPlugin: FastifyPluginAsync = async (app) => {
  await app.register(publicRoutes(fastifyStatic, { root: publicDir, prefix: '/dashboard/', index: 'index.html' }));
  await app.register(publicRoutes(fastifyStatic, {
    root: uplotDir,
    prefix: '/dashboard/vendor/',
    decorateReply: false,
    allowedPath: (p: string) => p === '/uPlot.iife.min.js' || p === '/uPlot.min.css',
  }));
  app.get('/', { schema: { hide: true }, config: { role: 'public' } }, (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard', { schema: { hide: true }, config: { role: 'public' } }, (_req, reply) => reply.redirect('/dashboard/'));
};
