// The wallet's figures for BENCHMARKS.md, measured in headless Chromium
// against the real sigil binary (a program that prints numbers, not a test):
//
//   node web/bench.mjs [--runs N]
//
// - bundle sizes: web/dist files, minified and gzip -9;
// - click → consent painted: from the app's click handler to the second
//   animation frame after the consent heading became visible in the popup
//   (the wallet exists; requestAccess needs no unlock);
// - sign after unlock: the wallet's own work per signature (decrypt the
//   vault with the session key, BSM-sign the payload, zero the key), and
//   click → resolved for a whole `sign` under "Sign without asking";
// - unlock: PBKDF2-HMAC-SHA256 600 000 + AES-GCM decrypt of the vault.

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { build } from 'esbuild';

import {
  appPage, clickForPopup, importWif, launch, outcome, repoRoot, setAction, startSigil, startSite, freePort,
} from './test/support.mjs';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 15;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms) => `${ms.toFixed(1)} ms`;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;

const dist = (name) => readFileSync(join(repoRoot, 'web/dist', name));
const sizes = ['sdk.js', 'sdk.mjs', 'wallet.js', 'wallet.css', 'wallet.html'].map((name) => {
  const bytes = dist(name);
  return { name, min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
});

const port = await freePort();
const sigil = await startSigil({ payloadHosts: [`127.0.0.1:${port}`] });
const app = await startSite({ '/': { body: appPage(sigil.url) } }, port);
const browser = await launch();
const results = {};
try {
  const context = await browser.newContext();
  context.setDefaultTimeout(20_000);
  // In every page (the wallet popups included; injected scripts are not
  // subject to the page's CSP): when the consent heading shows, note the
  // time two animation frames later, i.e. once it is painted.
  await context.addInitScript(() => {
    const watch = () => {
      const heading = document.getElementById('consent-heading');
      if (!heading) return setTimeout(watch, 1);
      const check = () => {
        if (heading.closest('section').hidden) return requestAnimationFrame(check);
        requestAnimationFrame(() => requestAnimationFrame(() => {
          window.__painted = performance.timeOrigin + performance.now();
        }));
      };
      check();
    };
    watch();
  });
  const manager = await context.newPage();
  await manager.goto(`${sigil.url}/wallet`);
  await importWif(manager, 'L211enC224G1kV8pyyq7bjVd9SxZebnRYEzzM3i7ZHCc1c5E7dQu', 'correct horse battery');
  await manager.getByRole('heading', { name: 'Your wallet' }).waitFor();
  const page = await context.newPage();
  await page.goto(app.url());
  await page.evaluate(() => {
    document.getElementById('go').addEventListener('click', () => {
      window.__clicked = performance.timeOrigin + performance.now();
    }, { capture: true });
  });

  // click → consent painted
  const consent = [];
  for (let i = 0; i < runs; i++) {
    await setAction(page, '() => wallet.requestAccess(["bch_address", "signature"])');
    const popup = await clickForPopup(page);
    await popup.waitForFunction(() => window.__painted !== undefined);
    const painted = await popup.evaluate(() => window.__painted);
    const clicked = await page.evaluate(() => window.__clicked);
    consent.push(painted - clicked);
    if (i < runs - 1) {
      await popup.getByRole('button', { name: 'Deny' }).click();
    } else {
      await popup.getByRole('button', { name: 'Allow' }).click();
    }
    await outcome(page);
  }
  results.consent = consent;

  // a whole sign under "Sign without asking"
  await setAction(page, '() => wallet.sign({ warm: true })');
  const first = await clickForPopup(page);
  await first.getByLabel('Sign without asking for 10 minutes').check();
  await first.getByRole('button', { name: 'Sign' }).click();
  await outcome(page);
  const whole = [];
  for (let i = 0; i < runs; i++) {
    await setAction(page, `() => wallet.sign({ order: ${i}, note: "benchmark" })`);
    await clickForPopup(page);
    const result = await outcome(page);
    if (!result.ok) throw new Error(JSON.stringify(result));
    whole.push(result.ms);
  }
  results.whole = whole;

  // The wallet's own work, in a page on sigil's origin with the same crypto module.
  const bundle = await build({
    entryPoints: [join(repoRoot, 'web/src/crypto.js')], bundle: true, format: 'iife', globalName: 'walletCrypto', write: false, logLevel: 'silent',
  });
  const bench = await browser.newPage();
  await bench.goto(app.url());
  await bench.addScriptTag({ content: bundle.outputFiles[0].text });
  const inner = await bench.evaluate(async (n) => {
    const c = walletCrypto;
    const wif = c.encodeWif(c.randomPrivateKey());
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const unlock = [];
    let key = await c.deriveKey('warm up', salt);
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      key = await c.deriveKey('correct horse battery', salt);
      unlock.push(performance.now() - t);
    }
    const bep = await c.sealBep(wif, key, salt);
    const unlockAndOpen = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const k = await c.deriveKey('correct horse battery', salt);
      c.wifOfPlaintext(await c.openBep(bep, k));
      unlockAndOpen.push(performance.now() - t);
    }
    const text = JSON.stringify({ signedBy: 'localhost:1911', requestedBy: '127.0.0.1:3000', data: { order: 1 }, timestamp: Date.now() });
    const signOnly = [];
    const perSignature = [];
    for (let i = 0; i < n * 4; i++) {
      let t = performance.now();
      const { priv } = c.decodeWif(c.wifOfPlaintext(await c.openBep(bep, key)));
      const t1 = performance.now();
      c.bsmSign(text + i, priv, true);
      const t2 = performance.now();
      priv.fill(0);
      signOnly.push(t2 - t1);
      perSignature.push(t2 - t);
    }
    return { unlock, unlockAndOpen, signOnly, perSignature };
  }, runs);
  Object.assign(results, inner);
  await context.close();
} finally {
  await browser.close();
  await app.stop();
  await sigil.stop();
}

const version = browser.version();
console.log(`Chromium ${version}, headless; ${runs} runs each (medians; min–max in brackets)\n`);
console.log('| bundle | minified | gzip -9 |');
console.log('|---|---|---|');
for (const s of sizes) console.log(`| \`web/dist/${s.name}\` | ${s.min} B (${kb(s.min)}) | ${s.gzip} B (${kb(s.gzip)}) |`);
const wallet = sizes.filter((s) => s.name.startsWith('wallet'));
const total = (k) => wallet.reduce((a, s) => a + s[k], 0);
console.log(`| the wallet page in all (html + js + css) | ${total('min')} B (${kb(total('min'))}) | ${total('gzip')} B (${kb(total('gzip'))}) |`);
console.log('');
const row = (what, xs) => console.log(`| ${what} | ${fmt(median(xs))} | [${fmt(Math.min(...xs))} – ${fmt(Math.max(...xs))}] |`);
console.log('| timing | median | range |');
console.log('|---|---|---|');
row('click → consent screen painted (popup opened, page loaded, request answered)', results.consent);
row('sign after unlock: the wallet\'s work per signature (decrypt vault + BSM sign)', results.perSignature);
row('BSM sign alone (@noble/curves, RFC 6979)', results.signOnly);
row('sign after unlock, click → resolved (new popup, "Sign without asking")', results.whole);
row('unlock: PBKDF2-HMAC-SHA256 600 000 (WebCrypto deriveKey)', results.unlock);
row('unlock: PBKDF2 600 000 + AES-GCM decrypt of the vault', results.unlockAndOpen);
