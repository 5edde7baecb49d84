// Debian's Chromium driven by playwright-core for the workspace's browser tests: no browser download, no request
// to any outside host (background networking, updates and sync off), a fresh profile per launch.
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A browser context on a fresh profile (playwright passes it as --user-data-dir). */
export async function launchChromium(viewport = { width: 1280, height: 900 }): Promise<BrowserContext> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`${chromiumPath} is missing: install it with "apt-get install -y chromium" (./touchstream test does so as root)`);
  }
  const profile = mkdtempSync(path.join(os.tmpdir(), 'workspace-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
}

export const screenshotDir = path.resolve(import.meta.dirname, '../../test-results/screenshots');
