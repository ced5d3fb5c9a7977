// Each error code of docs/protocol.md §16, provoked for real in headless
// Chromium: popup_blocked, closed, denied, not_granted, invalid_data,
// timeout, origin_not_allowed, opener_severed.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { clickForPopup, closedSoon, importWif, outcome, scene, setAction } from './support.mjs';

const PASS = 'correct horse battery';
const WIF = 'L211enC224G1kV8pyyq7bjVd9SxZebnRYEzzM3i7ZHCc1c5E7dQu';

function assertCode(result, code) {
  assert.equal(result.ok, false, `expected ${code}: ${JSON.stringify(result)}`);
  assert.equal(result.name, 'SigilWalletError');
  assert.equal(result.code, code, JSON.stringify(result));
}

/** A scene whose browser already holds a wallet (imported WIF, unlocked). */
async function withWallet(options) {
  const s = await scene(options);
  const page = await s.context.newPage();
  await page.goto(`${s.sigil.url}/wallet`);
  await importWif(page, WIF, PASS);
  await page.getByRole('heading', { name: 'Your wallet' }).waitFor();
  await page.close();
  return s;
}

async function grant(app, permissions) {
  await setAction(app, `() => wallet.requestAccess(${JSON.stringify(permissions)})`);
  const popup = await clickForPopup(app);
  await popup.getByRole('button', { name: 'Allow' }).click();
  const result = await outcome(app);
  assert.equal(result.ok, true, JSON.stringify(result));
  return result.value;
}

test('popup_blocked: a call without a user gesture rejects at once', async () => {
  const s = await scene();
  try {
    const app = await s.context.newPage();
    // The page calls requestAccess, sign, getToken and disconnect as it loads.
    await app.goto(`${s.appUrl}/#auto`);
    for (let index = 0; index < 4; index++) {
      const result = await outcome(app, index);
      assertCode(result, 'popup_blocked');
      assert.ok(result.ms < 1000, `rejected in ${result.ms} ms`);
    }
    assert.equal(s.context.pages().length, 1, 'no popup opened');
  } finally {
    await s.close();
  }
});

test('closed: the person closes the wallet before it answers', async () => {
  const s = await scene();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    await setAction(app, '() => wallet.requestAccess(["bch_address"])');
    const popup = await clickForPopup(app);
    await popup.getByRole('button', { name: 'Create wallet' }).waitFor();
    const closedAt = Date.now();
    await popup.close();
    const result = await outcome(app);
    assertCode(result, 'closed');
    assert.ok(Date.now() - closedAt < 1500, 'noticed within a second or so');
  } finally {
    await s.close();
  }
});

test('denied: Deny on the consent screen, Reject on the sign prompt', async () => {
  const s = await withWallet();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    await setAction(app, '() => wallet.requestAccess(["bch_address", "signature"])');
    let popup = await clickForPopup(app);
    await popup.getByRole('button', { name: 'Deny' }).click();
    assertCode(await outcome(app), 'denied');
    await grant(app, ['signature']);
    await setAction(app, '() => wallet.sign({ pay: 1 })');
    popup = await clickForPopup(app);
    await popup.getByRole('button', { name: 'Reject' }).click();
    assertCode(await outcome(app), 'denied');
  } finally {
    await s.close();
  }
});

test('not_granted: sign and getToken without the permission, answered without a prompt', async () => {
  const s = await withWallet();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    for (const call of ['wallet.sign({ a: 1 })', 'wallet.getToken(location.origin + "/api")']) {
      await setAction(app, `() => ${call}`);
      const popup = await clickForPopup(app);
      const result = await outcome(app);
      assertCode(result, 'not_granted');
      await closedSoon(popup);
    }
    // bch_address alone covers neither.
    await grant(app, ['bch_address']);
    await setAction(app, '() => wallet.sign({ a: 1 })');
    await clickForPopup(app);
    assertCode(await outcome(app), 'not_granted');
  } finally {
    await s.close();
  }
});

test('invalid_data: unknown permissions, data that is not a plain object or too large, a foreign endpoint', async () => {
  const s = await withWallet();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    for (const call of [
      'wallet.requestAccess(["bch_address", "spend_all"])',
      'wallet.requestAccess([])',
      'wallet.requestAccess("signature")',
      'wallet.sign([1, 2])',
      'wallet.sign("text")',
      'wallet.sign(null)',
      'wallet.sign(new Date())',
      'wallet.sign({ big: "x".repeat(17000) })',
      'wallet.getToken("http://evil.localhost:1/api")',
      'wallet.getToken("not a url")',
    ]) {
      await setAction(app, `() => ${call}`);
      await app.click('#go');
      const result = await outcome(app);
      assertCode(result, 'invalid_data');
      assert.ok(result.ms < 100, `${call}: answered at once`);
    }
    assert.equal(s.context.pages().length, 1, 'no popup opened for a bad call');
  } finally {
    await s.close();
  }
});

test('timeout: no answer within timeoutMs', async () => {
  const s = await scene();
  try {
    const app = await s.context.newPage();
    await app.goto(`${s.appUrl}/short`);
    await setAction(app, '() => wallet.requestAccess(["bch_address"])');
    const popup = await clickForPopup(app);
    const result = await outcome(app);
    assertCode(result, 'timeout');
    assert.ok(result.ms >= 1400 && result.ms < 3000, `${result.ms} ms`);
    await closedSoon(popup);
  } finally {
    await s.close();
  }
});

test('origin_not_allowed: an opaque (sandboxed) origin', async () => {
  const s = await scene();
  try {
    const app = await s.context.newPage();
    await app.goto(`${s.appUrl}/sandboxed`);
    // The sandboxed frame (origin "null") calls all four as it loads.
    await app.waitForLoadState('load');
    const frame = app.frames().find((f) => f !== app.mainFrame());
    for (let index = 0; index < 4; index++) {
      assertCode(await outcome(frame, index), 'origin_not_allowed');
    }
    assert.equal(s.context.pages().length, 1, 'no popup opened');
  } finally {
    await s.close();
  }
});

test('opener_severed: the app sends Cross-Origin-Opener-Policy: same-origin', async () => {
  const s = await scene();
  try {
    const app = await s.context.newPage();
    await app.goto(`${s.appUrl}/coop`);
    await setAction(app, '() => wallet.requestAccess(["bch_address"])');
    await app.click('#go');
    const result = await outcome(app);
    assertCode(result, 'opener_severed');
    assert.match(result.message, /Cross-Origin-Opener-Policy/);
    assert.match(result.message, /same-origin-allow-popups/);
    assert.ok(result.ms < 1500, `${result.ms} ms`);
  } finally {
    await s.close();
  }
});
