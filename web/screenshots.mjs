// Takes the README's screenshots of the wallet (docs/wallet-*.png) and of
// "Sign in with sigil" (docs/login-*.png: the login page without a key and
// locked, consent, the account page; desktop and phone) in headless
// Chromium, against the real sigil binary, an app on 127.0.0.1:3000 and the
// example relying party on 127.0.0.1:3001 (or free ports when taken):
//
//   node web/screenshots.mjs [OUT_DIR]      (default: docs/)
//
// Also writes phone and desktop views of every screen, light and dark,
// into OUT_DIR/all/ when --all is given, for looking at them.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { startRelyingParty } from './examples/sign-in-with-sigil.mjs';
import {
  appPage, clickForPopup, createKeyOnLoginPage, createWallet, freePort, launch, outcome, repoRoot, setAction,
  startSigil, startSite,
} from './test/support.mjs';

const out = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? join(repoRoot, 'docs');
const all = process.argv.includes('--all');
const PHONE = { width: 390, height: 760 };
const DESKTOP = { width: 1100, height: 760 };

async function portOr(wanted) {
  try {
    const probe = await startSite({}, wanted);
    await probe.stop();
    return wanted;
  } catch {
    return freePort();
  }
}

const port = await portOr(3000);
const sigil = await startSigil({ payloadHosts: [`127.0.0.1:${port}`] });
const app = await startSite({ '/': { body: appPage(sigil.url, { title: 'Shop' }) } }, port);
const browser = await launch();
const shots = [];

async function shoot(page, name, viewport, { fullPage = false } = {}) {
  await page.setViewportSize(viewport);
  await page.waitForTimeout(100);
  const path = join(out, name);
  await page.screenshot({ path, fullPage });
  shots.push(path);
}

/** docs/login-<screen>-<desktop|phone>.png. */
async function both(page, screen) {
  await shoot(page, `login-${screen}-desktop.png`, DESKTOP);
  await shoot(page, `login-${screen}-phone.png`, PHONE, { fullPage: true });
}

async function runLogin() {
  const rp = await startRelyingParty({ issuer: sigil.url, port: await portOr(3001), clientName: 'Tea Shop' });
  const context = await browser.newContext();
  context.setDefaultTimeout(10_000);
  try {
    const page = await context.newPage();
    await page.goto(`${rp.url}/login`);
    await page.getByRole('heading', { name: 'Your key, in this browser' }).waitFor();
    await both(page, 'nokey');
    await createKeyOnLoginPage(page, 'correct horse battery');
    await page.getByRole('button', { name: 'Lock' }).click();
    await page.locator('#signin-form').getByLabel('Passphrase', { exact: true }).waitFor();
    await both(page, 'locked');
    await page.locator('#signin-form').getByLabel('Passphrase', { exact: true }).fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    await both(page, 'consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${rp.url}/me`);
    await page.goto(`${sigil.url}/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await both(page, 'account');
  } finally {
    await context.close();
    await rp.stop();
  }
}

async function run(colorScheme) {
  const context = await browser.newContext({ colorScheme });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  await page.goto(app.url());
  const tag = colorScheme;
  await setAction(page, '() => wallet.requestAccess(["bch_address", "signature"])');
  const popup = await clickForPopup(page);
  if (all) await shoot(popup, `all/welcome-${tag}-phone.png`, PHONE);
  await createWallet(popup, 'correct horse battery');
  if (all) await shoot(popup, `all/backup-${tag}-phone.png`, PHONE);
  await popup.getByRole('button', { name: 'Show private key' }).click();
  await popup.getByRole('button', { name: 'Continue' }).click();
  await popup.getByRole('heading', { name: 'Connect this site?' }).waitFor();
  if (colorScheme === 'light') await shoot(popup, 'wallet-consent.png', DESKTOP);
  if (all) {
    await shoot(popup, `all/consent-${tag}-phone.png`, PHONE);
    await shoot(popup, `all/consent-${tag}-desktop.png`, DESKTOP);
  }
  await popup.getByRole('button', { name: 'Allow' }).click();
  await outcome(page);
  await setAction(page, '() => wallet.sign({ order: 1042, items: [{ sku: "TEA-01", qty: 2 }], total: "12.40 EUR" })');
  const sign = await clickForPopup(page);
  await sign.getByRole('heading', { name: 'Sign this data?' }).waitFor();
  if (colorScheme === 'dark') await shoot(sign, 'wallet-sign.png', PHONE);
  if (all) {
    await shoot(sign, `all/sign-${tag}-phone.png`, PHONE);
    await shoot(sign, `all/sign-${tag}-desktop.png`, DESKTOP);
  }
  await sign.getByRole('button', { name: 'Sign' }).click();
  await outcome(page);
  const home = await context.newPage();
  await home.goto(`${sigil.url}/wallet`);
  await home.getByRole('heading', { name: 'Your wallet' }).waitFor();
  if (colorScheme === 'light') await shoot(home, 'wallet-home.png', PHONE);
  if (all) {
    await shoot(home, `all/home-${tag}-phone.png`, PHONE);
    await shoot(home, `all/home-${tag}-desktop.png`, DESKTOP);
    await home.getByRole('button', { name: 'Lock' }).click();
    await home.getByLabel('Passphrase', { exact: true }).last().fill('wrong passphrase');
    await home.getByRole('button', { name: 'Unlock' }).click();
    await home.getByRole('alert').filter({ hasText: 'Wrong' }).waitFor();
    await shoot(home, `all/unlock-${tag}-phone.png`, PHONE);
  }
  await context.close();
}

try {
  mkdirSync(join(out, 'all'), { recursive: true });
  await run('light');
  await run('dark');
  await runLogin();
  console.log(shots.join('\n'));
} finally {
  await browser.close();
  await app.stop();
  await sigil.stop();
}
