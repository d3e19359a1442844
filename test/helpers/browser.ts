import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** The Debian chromium package; override with GITOKU_CHROMIUM. */
export const CHROMIUM_PATH = process.env.GITOKU_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * Why browser tests cannot run here, or null when they can. Outside CI a missing Chromium skips
 * them (with this reason); in CI (CI=true) it is an error, so the suite cannot silently go green.
 */
export function browserUnavailableReason(): string | null {
  if (existsSync(CHROMIUM_PATH)) return null;
  const reason = `Chromium not found at ${CHROMIUM_PATH} (install it with "apt-get install chromium" or set GITOKU_CHROMIUM)`;
  if (process.env.CI === 'true') throw new Error(`browser tests must run in CI: ${reason}`);
  return reason;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS });
}

export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../test-results/screenshots');

/** Saves a full-page screenshot to test-results/screenshots/<name>.png (gitignored). */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Signs a user in through the login form and waits for the dashboard. */
export async function signInAs(page: Page, serverUrl: string, user: { username: string; password: string }): Promise<void> {
  await page.goto(`${serverUrl}/-/login`);
  await page.fill('#login-username', user.username);
  await page.fill('#login-password', user.password);
  await Promise.all([page.waitForURL(`${serverUrl}/`), page.click('button[type=submit]')]);
}

export interface PageOptions {
  /** A phone: 390×844 at 2×, touch. */
  mobile?: boolean;
  javaScript?: boolean;
  /** The desktop viewport (default 1280×900). */
  width?: number;
  height?: number;
}

const MOBILE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/**
 * A page in a context of its own, added to `contexts` for the suite to close. No page may ever open a
 * dialog: that would be script injected through user content, so one fails the test.
 */
export async function openPage(browser: Browser, contexts: BrowserContext[], opts: PageOptions = {}): Promise<Page> {
  const context = await browser.newContext({ ...(opts.mobile ? MOBILE : { viewport: { width: opts.width ?? 1280, height: opts.height ?? 900 } }), javaScriptEnabled: opts.javaScript ?? true });
  contexts.push(context);
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    throw new Error(`unexpected dialog: ${dialog.message()}`);
  });
  return page;
}

/** An element's text with white space folded. */
export async function textOf(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector)) ?? '').replace(/\s+/g, ' ').trim();
}
