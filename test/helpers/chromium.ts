// Debian's Chromium for browser tests, driven by playwright-core; skipped (with how to install it)
// when it is missing, except under CI where it must run.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { TestContext } from 'node:test';
import { chromium, type Browser } from 'playwright-core';

const executablePath = '/usr/bin/chromium';

/** A headless Chromium closed after the test, or undefined when the test was skipped for want of one. */
export async function launchChromium(t: TestContext): Promise<Browser | undefined> {
  if (!existsSync(executablePath)) {
    if (process.env.CI) assert.fail(`Chromium is required in CI but ${executablePath} is missing (apt-get install chromium)`);
    t.skip(`Chromium not installed at ${executablePath}: apt-get install -y chromium to run this test`);
    return undefined;
  }
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(() => browser.close());
  return browser;
}

/** Serves `html` at every path of its own origin (`http://localhost:<port>`), closed after the test; answers the origin. */
export async function servePage(t: TestContext, html: string): Promise<string> {
  const site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html));
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  t.after(() => site.close());
  return `http://localhost:${(site.address() as { port: number }).port}`;
}
