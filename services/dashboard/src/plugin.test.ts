import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { enforceRoles } from '@touchstream/runtime';
import { dashboardPlugin } from './plugin.ts';

describe('dashboardPlugin', async () => {
  const app = Fastify();
  // As on the process's server: every route must declare a role, and the page's are public.
  enforceRoles(app, { keys: {} });
  await app.register(dashboardPlugin);
  await app.ready();

  it('serves the page, its script and the chart library; / leads to it', async () => {
    const page = await app.inject('/dashboard/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('<script type="module" src="app.js">');
    for (const asset of ['app.js', 'format.js', 'style.css', 'vendor/uPlot.iife.min.js', 'vendor/uPlot.min.css']) {
      const res = await app.inject(`/dashboard/${asset}`);
      expect(res.statusCode, asset).toBe(200);
      expect(res.body.length, asset).toBeGreaterThan(100);
    }
    expect((await app.inject('/dashboard/app.js')).headers['content-type']).toMatch(/javascript/);
    const root = await app.inject('/');
    expect(root.statusCode).toBe(302);
    expect(root.headers.location).toBe('/dashboard/');
  });

  it('serves nothing else from the chart library folder', async () => {
    expect((await app.inject('/dashboard/vendor/uPlot.esm.js')).statusCode).toBe(404);
    expect((await app.inject('/dashboard/vendor/../package.json')).statusCode).toBe(404);
  });

  it('has no inline script, style or event handler, so the strict content security policy holds', async () => {
    const page = (await app.inject('/dashboard/')).body;
    expect(page).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(page).not.toMatch(/<style|\sstyle=|\son[a-z]+=|javascript:/i);
    const script = (await app.inject('/dashboard/app.js')).body;
    expect(script).not.toMatch(/\sstyle=|\son[a-z]+=["']|setAttribute\(['"](style|on)/i);
  });
});
