import { launchChromium } from './browser.ts';
const base = process.argv[2] ?? 'http://127.0.0.1:18080';
const width = Number(process.argv[3] ?? 1280);
const only = process.argv[4];
const ctx = await launchChromium({ width, height: 900 });

const page = await ctx.newPage();
page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log('console', m.type(), m.text()); });
page.on('pageerror', (e) => console.log('pageerror', e.message));
page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) console.log('OUTSIDE', r.url()); });
await page.goto(`${base}/dashboard/?key=demo-read-key`);
for (const p of (only ? only.split(',') : ['overview', 'journeys', 'funnels', 'paths', 'drivers', 'attribution', 'cohorts', 'actions', 'alerts', 'customer'])) {
  await page.goto(`${base}/dashboard/?page=${p}&range=24h`);
  await page.waitForTimeout(2500);
  if (p === 'journeys') { await page.locator('td.cell').first().click(); await page.waitForTimeout(1000); }
  if (p === 'funnels') { await page.getByRole('button', { name: 'Who dropped?' }).last().click(); await page.waitForTimeout(1000); }
  await page.screenshot({ path: `/tmp/shot-${p}-${width}.png`, fullPage: true });
  const sw = await page.evaluate(() => document.documentElement.scrollWidth);
  console.log(p, 'scrollWidth', sw);
}
await ctx.close();
