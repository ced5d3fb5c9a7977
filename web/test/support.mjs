// What the browser tests share: the real `sigil serve` on a temporary SQLite
// database, small Node servers for the app and the attacker, headless
// Chromium through playwright-core with popup blocking left on, and helpers
// that drive the wallet's screens by their accessible names.
//
// Sites: sigil at http://localhost:P, the app at http://127.0.0.1:Q, the
// attacker at http://evil.localhost:R (Chromium resolves *.localhost to
// loopback; every server binds 127.0.0.1).

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '../..');

/** The sigil binary: $SIGIL_BIN, else $CARGO_TARGET_DIR/debug/sigil, else target/debug/sigil. */
export function sigilBin() {
  if (process.env.SIGIL_BIN) return process.env.SIGIL_BIN;
  const target = process.env.CARGO_TARGET_DIR || join(repoRoot, 'target');
  const bin = join(target, 'debug', 'sigil');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run cargo build --bin sigil`);
  return bin;
}

/** Runs the sigil CLI and returns its standard output. */
export function sigilCli(args, env = {}) {
  return execFileSync(sigilBin(), args, { env: { ...process.env, ...env }, encoding: 'utf8' });
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
    server.on('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `sigil serve` on a fresh database: `{url, port, stop()}`. `url` is
 * http://localhost:P, the issuer. `payloadHosts` are the allowed
 * `requestedBy` values.
 */
export async function startSigil({ payloadHosts = [], env = {} } = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sigil-browser-'));
  const url = `http://localhost:${port}`;
  const args = [
    'serve',
    '--listen', `127.0.0.1:${port}`,
    '--issuer', url,
    '--database', `sqlite://${join(dir, 'sigil.db')}`,
    '--rate-limits', 'off',
  ];
  if (payloadHosts.length) args.push('--payload-hosts', payloadHosts.join(','));
  const child = spawn(sigilBin(), args, {
    cwd: dir,
    env: { ...process.env, RUST_LOG: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sigil serve exited: ${stderr}`);
    try {
      const answer = await fetch(`http://127.0.0.1:${port}/health`);
      if (answer.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`sigil serve did not answer /health: ${stderr}`);
    await sleep(50);
  }
  return {
    url,
    port,
    dir,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The page an app (or the attacker) serves at `/`: it loads sigil's SDK
 * and has one button, `#go`, whose click runs `window.action()` and keeps
 * the settled outcome in `window.outcomes`. `coop` sets a
 * Cross-Origin-Opener-Policy on it.
 */
export function appPage(sigilUrl, { timeoutMs = 300_000, title = 'App', extra = '' } = {}) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<script src="${sigilUrl}/sdk.js"></script><script src="/app.js"></script></head>
<body><h1>${title}</h1><button id="go" type="button">Go</button>
<script type="application/json" id="options">${JSON.stringify({ timeoutMs })}</script>${extra}</body></html>`;
}

const APP_JS = `
window.outcomes = [];
function settle(promise) {
  const index = window.outcomes.length;
  window.outcomes.push(null);
  const started = performance.now();
  promise.then(
    (value) => { window.outcomes[index] = { ok: true, value, ms: performance.now() - started }; },
    (error) => { window.outcomes[index] = { ok: false, name: error.name, code: error.code, message: error.message, ms: performance.now() - started }; },
  );
  return index;
}
window.settle = settle;
// The calls' popups, by window name (the SDK names each after its request id).
window.opened = [];
const realOpen = window.open.bind(window);
window.open = (...args) => {
  const popup = realOpen(...args);
  window.opened.push({ name: args[1], popup });
  return popup;
};
// A request posted by hand (not through the SDK) to a wallet window opened
// here: resolves to the wallet's response message.
window.raw = (walletUrl, message) => {
  const popup = realOpen(walletUrl, 'raw-' + Math.random().toString(16).slice(2));
  if (!popup) return Promise.reject(new Error('no popup'));
  const origin = new URL(walletUrl).origin;
  return new Promise((resolve) => {
    const on = (event) => {
      if (event.source !== popup || event.origin !== origin) return;
      if (event.data && event.data.type === 'ready') popup.postMessage(message, origin);
      else if (event.data && event.data.type === 'response') {
        removeEventListener('message', on);
        resolve(event.data);
      }
    };
    addEventListener('message', on);
  });
};
addEventListener('DOMContentLoaded', () => {
  window.wallet = sigil.wallet(JSON.parse(document.getElementById('options').textContent));
  document.getElementById('go').addEventListener('click', () => {
    const actions = [].concat(window.action());
    for (const p of actions) settle(p);
  });
  // Calls made as the page loads: no user gesture (page.evaluate would
  // count as one).
  if (location.hash === '#auto') {
    settle(wallet.requestAccess(['bch_address']));
    settle(wallet.sign({ a: 1 }));
    settle(wallet.getToken(location.origin + '/api'));
    settle(wallet.disconnect());
  }
});
`;

/**
 * A Node server on 127.0.0.1 serving `pages` (path → {body, headers}) and
 * /app.js: `{port, origin(host), stop()}`.
 */
export async function startSite(pages, wanted = 0) {
  const server = createServer((request, response) => {
    const path = new URL(request.url, 'http://x').pathname;
    if (path === '/app.js') {
      response.writeHead(200, { 'content-type': 'text/javascript' });
      return response.end(APP_JS);
    }
    const page = pages[path];
    if (!page) {
      response.writeHead(404);
      return response.end('not found');
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...(page.headers || {}) });
    response.end(page.body);
  });
  await new Promise((r, j) => {
    server.once('error', j);
    server.listen(wanted, "127.0.0.1", r);
  });
  const { port } = server.address();
  return {
    port,
    url: (host = '127.0.0.1') => `http://${host}:${port}`,
    stop: () => new Promise((r) => server.close(r)),
  };
}

/** Headless Chromium with popup blocking on (Playwright turns it off by default). */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    ignoreDefaultArgs: ['--disable-popup-blocking'],
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Sets `window.action` on `page` to the function text `body` (run in the page). */
export async function setAction(page, body) {
  await page.evaluate((text) => {
    // eslint-disable-next-line no-new-func
    window.action = new Function(`return (${text});`)();
  }, body);
}

/**
 * Clicks the app's `#go` (a real user gesture) and returns the popup it
 * opened (or null when none opened within `wait` ms).
 */
export async function clickForPopup(page, { wait = 5000 } = {}) {
  const popup = page.context().waitForEvent('page', { timeout: wait }).catch(() => null);
  await page.click('#go');
  const opened = await popup;
  // A wallet that answers at once (not_granted) may already have closed.
  if (opened) await opened.waitForLoadState('domcontentloaded').catch(() => {});
  return opened;
}

/** The outcome of the app's `index`th call, once settled. */
export async function outcome(page, index = -1, timeout = 10_000) {
  await page.waitForFunction(
    (i) => {
      const list = window.outcomes;
      const item = i < 0 ? list[list.length + i] : list[i];
      return item !== null && item !== undefined;
    },
    index,
    { timeout },
  );
  return page.evaluate((i) => (i < 0 ? window.outcomes.at(i) : window.outcomes[i]), index);
}

/** Creates a wallet on the welcome screen of `popup` with `passphrase`. */
export async function createWallet(popup, passphrase) {
  const form = popup.locator('#create-form');
  await form.getByRole('textbox', { name: 'Passphrase', exact: true }).fill(passphrase);
  await form.getByRole('textbox', { name: 'Confirm passphrase' }).fill(passphrase);
  await popup.getByRole('button', { name: 'Create wallet' }).click();
  await popup.getByRole('heading', { name: 'Back up your key' }).waitFor();
}

/** Imports `wif` on the welcome screen of `popup` under `passphrase`. */
export async function importWif(popup, wif, passphrase) {
  await popup.getByRole('button', { name: 'I have a key' }).click();
  const form = popup.locator('#import-form');
  await form.getByRole('textbox', { name: 'Private key (WIF)' }).fill(wif);
  await form.getByRole('textbox', { name: 'Passphrase', exact: true }).fill(passphrase);
  await form.getByRole('textbox', { name: 'Confirm passphrase' }).fill(passphrase);
  await popup.getByRole('button', { name: 'Import key' }).click();
}

/**
 * Creates a key with `passphrase` on sigil's login page (a browser without
 * one), through the backup step, and waits for the Sign in screen.
 */
export async function createKeyOnLoginPage(page, passphrase) {
  await page.getByRole('heading', { name: 'Your key, in this browser' }).waitFor();
  await createWallet(page, passphrase);
  await page.getByRole('button', { name: 'Show private key' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
}

/** Registers an OAuth client at sigil's RFC 7591 endpoint; resolves to its answer. */
export async function registerClient(sigilUrl, metadata) {
  const answer = await fetch(`${sigilUrl}/oauth2/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(metadata),
  });
  const body = await answer.json();
  if (!answer.ok) throw new Error(`registration refused: ${JSON.stringify(body)}`);
  return body;
}

/** Unlocks the wallet shown in `page`. */
export async function unlock(page, passphrase) {
  await page.getByRole('textbox', { name: 'Passphrase', exact: true }).fill(passphrase);
  await page.getByRole('button', { name: 'Unlock' }).click();
}

/** Everything the wallet origin stores, as one JSON text (IndexedDB, localStorage, sessionStorage). */
export async function dumpStorage(page) {
  return page.evaluate(async () => {
    const out = { local: { ...localStorage }, session: { ...sessionStorage }, idb: {} };
    const names = (await indexedDB.databases()).map((d) => d.name);
    for (const name of names) {
      const db = await new Promise((r, j) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => r(req.result);
        req.onerror = () => j(req.error);
      });
      out.idb[name] = {};
      for (const storeName of db.objectStoreNames) {
        const tx = db.transaction(storeName, 'readonly');
        const store = tx.objectStore(storeName);
        const [keys, values] = await Promise.all(
          [store.getAllKeys(), store.getAll()].map(
            (req) => new Promise((r, j) => {
              req.onsuccess = () => r(req.result);
              req.onerror = () => j(req.error);
            }),
          ),
        );
        const describe = (v) => {
          if (v instanceof CryptoKey) return { CryptoKey: { extractable: v.extractable, algorithm: v.algorithm.name, usages: v.usages } };
          if (v instanceof Uint8Array || v instanceof ArrayBuffer) return { bytes: Array.from(new Uint8Array(v)) };
          if (Array.isArray(v)) return v.map(describe);
          if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, describe(x)]));
          return v;
        };
        out.idb[name][storeName] = Object.fromEntries(keys.map((k, i) => [String(k), describe(values[i])]));
      }
      db.close();
    }
    return JSON.stringify(out);
  });
}

/**
 * A whole scene for one test: sigil, the app on 127.0.0.1, the attacker
 * on evil.localhost, a browser context. `close()` stops everything.
 */
export async function scene({ appHeaders = {}, timeoutMs, extraPages = {} } = {}) {
  const appPort = await freePort();
  const sigil = await startSigil({ payloadHosts: [`127.0.0.1:${appPort}`] });
  const pages = (title) => ({
    '/': { body: appPage(sigil.url, { timeoutMs, title }), headers: appHeaders },
    '/coop': { body: appPage(sigil.url, { timeoutMs, title }), headers: { 'cross-origin-opener-policy': 'same-origin' } },
    '/short': { body: appPage(sigil.url, { timeoutMs: 1500, title }) },
    '/sandboxed': { body: `<!doctype html><title>Sandboxed</title><iframe sandbox="allow-scripts allow-popups" src="/#auto"></iframe>` },
    '/framed': { body: appPage(sigil.url, { timeoutMs, title, extra: '<iframe id="evil" src="EVIL/frame"></iframe>' }) },
    '/frame': { body: '<!doctype html><title>Frame</title><p>frame</p>' },
    ...extraPages,
  });
  const evilPort = await freePort();
  const withEvil = (list) => {
    const framed = list['/framed'];
    framed.body = framed.body.replace('EVIL', `http://evil.localhost:${evilPort}`);
    return list;
  };
  const app = await startSiteOn(appPort, withEvil(pages('App')));
  const evil = await startSiteOn(evilPort, withEvil(pages('Evil')));
  const browser = await launch();
  const context = await browser.newContext();
  context.setDefaultTimeout(10_000);
  return {
    sigil,
    app,
    evil,
    browser,
    context,
    appUrl: app.url('127.0.0.1'),
    evilUrl: evil.url('evil.localhost'),
    async close() {
      await browser.close();
      await Promise.all([app.stop(), evil.stop(), sigil.stop()]);
    },
  };
}

async function startSiteOn(port, pages) {
  // The app's port must be known before sigil starts (its payload host).
  for (let attempt = 0; ; attempt++) {
    try {
      return await startSite(pages, port);
    } catch (error) {
      if (error.code !== 'EADDRINUSE' || attempt >= 5) throw error;
      await sleep(100);
    }
  }
}

/** Waits until `page` (a wallet popup) has closed itself; throws after `ms`. */
export async function closedSoon(page, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!page.isClosed()) {
    if (Date.now() > deadline) throw new Error(`the popup ${page.url()} stayed open`);
    await sleep(50);
  }
}
