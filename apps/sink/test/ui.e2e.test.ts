// End-to-end: the web UI in headless Chromium (Debian's package, driven by playwright-core).

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSink, type TestSink } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
// In CI the browser must be there: the test fails rather than skips.
const skip = !available && !process.env.CI;

describe.skipIf(skip)('web UI in headless Chromium', () => {
  let sink: TestSink;
  let browser: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    sink = await startSink();
    profile = mkdtempSync(join(tmpdir(), 'mailyard-chromium-'));
    // An empty profile of our own (playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await sink?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('shows a message sent over SMTP without reload, opens it, and shows its HTML and verdicts', async () => {
    const page = await browser.newPage();
    await page.goto(sink.httpUrl);
    await page.locator('#live.on').waitFor({ timeout: 20_000 });
    await sink.send({
      from: 'Shop <shop@example.test>',
      to: 'buyer@example.test',
      subject: 'Your order 1234',
      html: '<h1 id="greeting">Thanks for your order</h1><p>Code 8812</p>',
    });
    const item = page.locator('#list li', { hasText: 'Your order 1234' });
    await item.waitFor({ timeout: 20_000 });
    await item.click();
    await expect
      .poll(() => page.locator('#view-head h2').textContent(), { timeout: 20_000 })
      .toBe('Your order 1234');
    const frame = page.frameLocator('#html-frame');
    await expect
      .poll(() => frame.locator('#greeting').textContent(), { timeout: 20_000 })
      .toBe('Thanks for your order');
    await page.locator('#tabs button[data-tab="auth"]').click();
    await expect
      .poll(() => page.locator('#tab-body .verdicts').textContent(), { timeout: 20_000 })
      .toMatch(/SPF\s*none/);
    await page.locator('#tabs button[data-tab="links"]').click();
    await expect.poll(() => page.locator('#tab-body .code').first().textContent()).toBe('8812');
    await page.close();
  });

  it('runs none of the scripts in a hostile message and blocks its remote images', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(sink.httpUrl);
    await page.locator('#live.on').waitFor({ timeout: 20_000 });
    const remoteHits: string[] = [];
    await page.route('http://remote.example.test/**', (route) => {
      remoteHits.push(route.request().url());
      return route.fulfill({ status: 200, contentType: 'image/png', body: Buffer.alloc(0) });
    });
    await sink.send({
      from: 'attacker@example.test',
      to: 'victim@example.test',
      subject: 'Hostile',
      html: [
        '<p id="marker">hostile body</p>',
        '<script>document.getElementById("marker").textContent="pwned";window.top.document.title="pwned-script";parent.postMessage("pwned","*");alert("script")</script>',
        "<img src=\"x\" onerror=\"document.body.setAttribute('data-pwned','1');window.top.document.title='pwned-onerror';alert('onerror')\">",
        '<svg onload="alert(\'svg\')"></svg>',
        '<img src="http://remote.example.test/pixel.png">',
        '<a href="javascript:alert(1)" id="jslink">click</a>',
      ].join(''),
    });
    const item = page.locator('#list li', { hasText: 'Hostile' });
    await item.waitFor({ timeout: 20_000 });
    await item.click();
    const frame = page.frameLocator('#html-frame');
    await expect.poll(() => frame.locator('#marker').textContent(), { timeout: 20_000 }).toBe('hostile body');
    // Give any script, handler or image a moment to (not) run.
    await page.waitForTimeout(1000);
    expect(dialogs).toEqual([]);
    expect(await page.title()).not.toContain('pwned');
    // Same-frame effects too: the script did not rewrite the marker, the handler did not mark the body.
    expect(await frame.locator('#marker').textContent()).toBe('hostile body');
    expect(await frame.locator('body').getAttribute('data-pwned')).toBeNull();
    expect(remoteHits).toEqual([]);
    const sandbox = await page.locator('#html-frame').getAttribute('sandbox');
    expect(sandbox).not.toContain('allow-scripts');
    expect(sandbox).not.toContain('allow-same-origin');
    // The remote image loads only after the user allows it.
    await page.locator('#allow-remote').click();
    await expect.poll(() => remoteHits.length, { timeout: 20_000 }).toBeGreaterThan(0);
    expect(dialogs).toEqual([]);
    await page.close();
  });
});
