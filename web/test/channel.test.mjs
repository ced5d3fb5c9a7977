// The channel and the grants (docs/protocol.md §16), attacked for real in
// headless Chromium: forged and replayed messages from the attacker's
// origin or a window that is not the opener change nothing; a grant covers
// exactly one origin; Revoke is immediate; bad requests, a burst of calls
// and calls while locked leave the stored state intact; getToken and "Sign
// without asking".

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  clickForPopup, closedSoon, dumpStorage, importWif, outcome, scene, setAction, unlock,
} from './support.mjs';

const PASS = 'correct horse battery';
const WIF = 'L211enC224G1kV8pyyq7bjVd9SxZebnRYEzzM3i7ZHCc1c5E7dQu';
const PROTOCOL = 'sigil-wallet/1';

async function withWallet(options) {
  const s = await scene(options);
  const page = await s.context.newPage();
  await page.goto(`${s.sigil.url}/wallet`);
  await importWif(page, WIF, PASS);
  await page.getByRole('heading', { name: 'Your wallet' }).waitFor();
  return { s, manager: page };
}

async function grant(app, permissions) {
  await setAction(app, `() => wallet.requestAccess(${JSON.stringify(permissions)})`);
  const popup = await clickForPopup(app);
  await popup.getByRole('button', { name: 'Allow' }).click();
  const result = await outcome(app);
  assert.equal(result.ok, true, JSON.stringify(result));
  return result.value;
}

/** The wallet's stored vault and grants, read back through the wallet page. */
async function stored(manager) {
  const state = JSON.parse(await dumpStorage(manager)).idb['sigil-wallet'].state;
  return { vault: state.vault, grants: state.grants, autosign: state.autosign };
}

function assertCode(result, code) {
  assert.equal(result.ok, false, `expected ${code}: ${JSON.stringify(result)}`);
  assert.equal(result.code, code, JSON.stringify(result));
}

test('a grant covers exactly its origin: not another port, not another host', async () => {
  const { s } = await withWallet();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    await grant(app, ['signature']);
    for (const other of [
      `http://localhost:${s.app.port}`, // same server, another host name
      `http://127.0.0.1:${s.evil.port}`, // another port
      s.evilUrl, // the attacker
    ]) {
      const page = await s.context.newPage();
      await page.goto(other);
      await setAction(page, '() => wallet.sign({ a: 1 })');
      await clickForPopup(page);
      assertCode(await outcome(page), 'not_granted');
      await page.close();
    }
  } finally {
    await s.close();
  }
});

test('Revoke in Connected sites and disconnect() take effect at once', async () => {
  const { s, manager } = await withWallet();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    await grant(app, ['bch_address', 'signature']);
    await manager.reload();
    const site = manager.locator('.site', { hasText: s.appUrl });
    await site.waitFor();
    assert.match(await site.textContent(), /address, signing/);
    await site.getByRole('button', { name: 'Revoke' }).click();
    await manager.getByText('No site is connected.').waitFor();
    await setAction(app, '() => wallet.sign({ a: 1 })');
    await clickForPopup(app);
    assertCode(await outcome(app), 'not_granted');
    // disconnect() from the app does the same for its own origin.
    await grant(app, ['signature']);
    await setAction(app, '() => wallet.disconnect()');
    await clickForPopup(app);
    const gone = await outcome(app);
    assert.equal(gone.ok, true, JSON.stringify(gone));
    assert.equal(gone.value, undefined);
    await setAction(app, '() => wallet.sign({ a: 2 })');
    await clickForPopup(app);
    assertCode(await outcome(app), 'not_granted');
  } finally {
    await s.close();
  }
});

test('the attacker opening the wallet itself is seen as itself, whatever its message claims', async () => {
  const { s, manager } = await withWallet();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    await grant(app, ['signature', 'token']);
    const before = await stored(manager);
    const evil = await s.context.newPage();
    await evil.goto(s.evilUrl);
    for (const method of ['sign', 'getToken', 'disconnect']) {
      const params = method === 'sign' ? [{ steal: true }] : method === 'getToken' ? [`${s.appUrl}/api`] : [];
      await setAction(
        evil,
        `() => raw(${JSON.stringify(`${s.sigil.url}/wallet`)}, ${JSON.stringify({
          protocol: PROTOCOL, type: 'request', id: 'a'.repeat(32), method, params,
          origin: s.appUrl, requestedBy: `127.0.0.1:${s.app.port}`,
        })})`,
      );
      await clickForPopup(evil);
      const answer = await outcome(evil);
      assert.equal(answer.ok, true);
      if (method === 'disconnect') assert.equal(answer.value.error, undefined);
      else if (method === 'sign') assert.equal(answer.value.error.code, 'not_granted');
      else assert.equal(answer.value.error.code, 'invalid_data', 'an endpoint of another origin');
    }
    // The app's grants are untouched (the attacker's disconnect was its own).
    assert.deepEqual(await stored(manager), before);
  } finally {
    await s.close();
  }
});

test('forged and replayed replies to the SDK, and requests from a window that is not the opener, change nothing', async () => {
  const { s, manager } = await withWallet();
  try {
    const app = await s.context.newPage();
    await app.goto(`${s.appUrl}/framed`);
    await grant(app, ['signature']);
    const before = await stored(manager);
    await setAction(app, '() => wallet.sign({ real: true })');
    const popup = await clickForPopup(app);
    await popup.getByRole('heading', { name: 'Sign this data?' }).waitFor();
    const name = await app.evaluate(() => window.opened.at(-1).name);
    const id = name.replace('sigil-wallet-', '');
    assert.match(id, /^[0-9a-f]{32}$/);
    const forged = {
      protocol: PROTOCOL, type: 'response', id,
      result: { payload: {}, payloadText: '{}', bchAddr: 'bitcoincash:forged', signature: 'forged' },
    };
    const evilFrame = app.frames().find((f) => f.url().startsWith(s.evilUrl));
    assert.ok(evilFrame, 'the attacker frame loaded');
    // The attacker frame forges the reply (it even knows the id), and posts
    // requests to the wallet popup, found by its name.
    const reached = await evilFrame.evaluate(([message, popupName, walletOrigin]) => {
      parent.postMessage(message, '*');
      const handle = window.open('', popupName);
      if (!handle) return false;
      handle.postMessage({ protocol: 'sigil-wallet/1', type: 'request', id: 'b'.repeat(32), method: 'disconnect', params: [] }, walletOrigin);
      handle.postMessage({ protocol: 'sigil-wallet/1', type: 'request', id: message.id, method: 'sign', params: [{ evil: 1 }] }, walletOrigin);
      return true;
    }, [forged, name, s.sigil.url]);
    // The app itself posting a reply-shaped message to itself: wrong source.
    await app.evaluate((message) => window.postMessage(message, '*'), forged);
    await app.waitForTimeout(300);
    assert.equal(await app.evaluate(() => window.outcomes.at(-1)), null, 'still pending');
    // The data shown is still the app's.
    assert.deepEqual(JSON.parse(await popup.getByLabel('Data to sign').textContent()), { real: true });
    await popup.getByRole('button', { name: 'Sign' }).click();
    const signed = await outcome(app);
    assert.equal(signed.ok, true, JSON.stringify(signed));
    assert.deepEqual(signed.value.payload.data, { real: true });
    assert.notEqual(signed.value.bchAddr, 'bitcoincash:forged');
    // Replaying the real reply afterwards settles nothing again.
    const count = await app.evaluate(() => window.outcomes.length);
    await app.evaluate(([message]) => window.postMessage(message, '*'), [{ ...forged, result: signed.value }]);
    await app.waitForTimeout(200);
    assert.equal(await app.evaluate(() => window.outcomes.length), count);
    assert.equal(reached, true, 'the attacker frame got a handle on the wallet popup');
    assert.deepEqual(await stored(manager), before, 'the frame\'s disconnect was ignored');
  } finally {
    await s.close();
  }
});

test('bad requests, a burst of calls and calls while locked end in their error or prompt, and the stored state is intact', async () => {
  const { s, manager } = await withWallet();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    await grant(app, ['signature']);
    const before = await stored(manager);
    const wallet = `${s.sigil.url}/wallet`;
    const bad = [
      ['sign', [{ big: 'x'.repeat(17 * 1024) }]],
      ['sign', [[1, 2, 3]]],
      ['sign', ['a string']],
      ['sign', [null]],
      ['requestAccess', [['bch_address', 'everything']]],
      ['requestAccess', ['signature']],
      ['getToken', ['http://evil.localhost:9/api']],
      ['transfer', [{ to: 'evil' }]],
      ['sign', 'not an array'],
    ];
    for (const [method, params] of bad) {
      await setAction(app, `() => raw(${JSON.stringify(wallet)}, ${JSON.stringify({ protocol: PROTOCOL, type: 'request', id: 'c'.repeat(32), method, params })})`);
      const popup = await clickForPopup(app);
      const answer = await outcome(app);
      assert.equal(answer.value.error?.code, 'invalid_data', `${method} ${JSON.stringify(params).slice(0, 40)}: ${JSON.stringify(answer.value)}`);
      await closedSoon(popup);
    }
    // A burst: five calls in one click. One popup opens (the gesture is
    // spent on it); the others are popup_blocked at once.
    await setAction(app, '() => [1, 2, 3, 4, 5].map((n) => wallet.sign({ n }))');
    const popup = await clickForPopup(app);
    const results = await Promise.all([-4, -3, -2, -1].map((i) => outcome(app, i)));
    for (const result of results) assertCode(result, 'popup_blocked');
    await popup.getByRole('button', { name: 'Sign' }).click();
    const first = await outcome(app, -5);
    assert.equal(first.ok, true, JSON.stringify(first));
    // Locked: sign asks for the passphrase, then for the signature.
    await manager.getByRole('button', { name: 'Lock' }).click();
    await manager.getByRole('heading', { name: 'Unlock your wallet' }).waitFor();
    await setAction(app, '() => wallet.sign({ while: "locked" })');
    const locked = await clickForPopup(app);
    await locked.getByRole('heading', { name: 'Unlock your wallet' }).waitFor();
    await unlock(locked, 'wrong passphrase!');
    await locked.getByRole('alert').filter({ hasText: 'Wrong passphrase' }).waitFor();
    await unlock(locked, PASS);
    await locked.getByRole('button', { name: 'Sign' }).click();
    const after = await outcome(app);
    assert.equal(after.ok, true, JSON.stringify(after));
    assert.deepEqual(after.value.payload.data, { while: 'locked' });
    const now = await stored(manager);
    assert.deepEqual(now.vault, before.vault, 'the vault is intact');
    assert.deepEqual(now.grants, before.grants, 'the grants are intact');
  } finally {
    await s.close();
  }
});

test('getToken under a token grant asks nothing more; "Sign without asking" skips the prompt', async () => {
  const { s } = await withWallet();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    const granted = await grant(app, ['signature', 'token']);
    await setAction(app, `() => wallet.getToken(location.origin + '/api/orders')`);
    const popup = await clickForPopup(app);
    const token = await outcome(app);
    assert.equal(token.ok, true, JSON.stringify(token));
    assert.equal(token.value.token_type, 'Bearer');
    await closedSoon(popup);
    const claims = JSON.parse(Buffer.from(token.value.access_token.split('.')[1], 'base64url'));
    assert.equal(claims.aud, `${s.appUrl}/api/orders`);
    assert.equal(claims.sub, granted.pubkey);
    assert.equal(claims.iss, s.sigil.url);

    await setAction(app, '() => wallet.sign({ n: 1 })');
    const prompt = await clickForPopup(app);
    await prompt.getByLabel('Sign without asking for 10 minutes').check();
    await prompt.getByRole('button', { name: 'Sign' }).click();
    assert.equal((await outcome(app)).ok, true);
    await setAction(app, '() => wallet.sign({ n: 2 })');
    const quiet = await clickForPopup(app);
    const second = await outcome(app);
    assert.equal(second.ok, true, JSON.stringify(second));
    assert.deepEqual(second.value.payload.data, { n: 2 });
    await closedSoon(quiet);
  } finally {
    await s.close();
  }
});
