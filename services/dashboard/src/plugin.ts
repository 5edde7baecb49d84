// The analysts' dashboard: a static single-page app served by the query target at /dashboard/ (and / redirects
// there). It calls the same query API as everyone else, with the analyst's read key, so it shows nothing the
// API would not; there is no server-side state and no build step (plain ES modules; uPlot for the charts).
import { createRequire } from 'node:module';
import path from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import fastifyStatic from '@fastify/static';

const publicDir = path.resolve(import.meta.dirname, '../public');
const uplotDir = path.dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));

export const dashboardPlugin: FastifyPluginAsync = async (app) => {
  await app.register(fastifyStatic, { root: publicDir, prefix: '/dashboard/', index: 'index.html' });
  await app.register(fastifyStatic, {
    root: uplotDir,
    prefix: '/dashboard/vendor/',
    decorateReply: false,
    allowedPath: (p) => p === '/uPlot.iife.min.js' || p === '/uPlot.min.css',
  });
  app.get('/', { schema: { hide: true } }, (_req, reply) => reply.redirect('/dashboard/'));
  app.get('/dashboard', { schema: { hide: true } }, (_req, reply) => reply.redirect('/dashboard/'));
};
