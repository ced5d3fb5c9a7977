// The person's paths through the wallet, in headless Chromium against the
// real sigil binary (docs/protocol.md §16): create → backup → allow → sign →
// the backend verifies once; import of a known WIF equals `sigil payload
// sign`; wrong passphrases; the .bep backup; what the wallet stores.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';

import {
  clickForPopup, createWallet, dumpStorage, importWif, outcome, scene, setAction, sigilCli, unlock,
} from './support.mjs';

const PASS = 'correct horse battery';
// tests/vectors/bsm_sign.json "bsv-sdk-hello-world".
const WIF = 'L211enC224G1kV8pyyq7bjVd9SxZebnRYEzzM3i7ZHCc1c5E7dQu';
const PRIV_HEX = '8ea77b137b5e47c67c687ea3ef367f54ad72dab899a3a52889c517c99c7fe1e7';
const PUBKEY = '03bbce95ff192e17a6d842cbafe14f7f192ac0466e7f0928c187398e627e66a84f';

async function verify(sigilUrl, body) {
  const answer = await fetch(`${sigilUrl}/api/payloads/verify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: answer.status, body: await answer.json() };
}

/** Opens the wallet from the app with requestAccess, returns the popup. */
async function requestAccess(app, permissions = ['bch_address', 'signature']) {
  await setAction(app, `() => wallet.requestAccess(${JSON.stringify(permissions)})`);
  return clickForPopup(app);
}

test('create, back up, allow, sign; the backend verifies once and refuses the replay', async () => {
  const s = await scene();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    const popup = await requestAccess(app);
    await createWallet(popup, PASS);
    // The backup step cannot be skipped.
    const proceed = popup.getByRole('button', { name: 'Continue' });
    assert.equal(await proceed.isDisabled(), true);
    const download = popup.waitForEvent('download');
    await popup.getByRole('button', { name: 'Download backup' }).click();
    const bep = await (await download).path();
    assert.ok(bep);
    await proceed.click();
    // Consent names the exact origin.
    await popup.getByRole('heading', { name: 'Connect this site?' }).waitFor();
    assert.equal(await popup.locator('.origin.big').first().textContent(), s.appUrl);
    assert.equal(await popup.getByLabel('Remember for').inputValue(), '1d');
    await popup.getByRole('button', { name: 'Allow' }).click();
    const granted = await outcome(app);
    assert.equal(granted.ok, true, JSON.stringify(granted));
    assert.equal(granted.value.status, 'GRANTED');
    assert.match(granted.value.bchAddr, /^bitcoincash:q[0-9a-z]{41}$/);
    assert.match(granted.value.pubkey, /^0[23][0-9a-f]{64}$/);
    assert.deepEqual(granted.value.permissions, ['bch_address', 'signature']);
    const day = granted.value.expiresAt - Date.now();
    assert.ok(day > 86_000_000 && day <= 86_400_000, `expiresAt in a day: ${day}`);

    // Sign: the prompt shows the data; the result verifies once.
    await setAction(app, `() => wallet.sign({ order: 42, note: "pay <b>me</b>" })`);
    const signPopup = await clickForPopup(app);
    await signPopup.getByRole('heading', { name: 'Sign this data?' }).waitFor();
    const shown = await signPopup.getByLabel('Data to sign').textContent();
    assert.deepEqual(JSON.parse(shown), { order: 42, note: 'pay <b>me</b>' });
    assert.equal(await signPopup.locator('.origin.big').first().textContent(), s.appUrl);
    await signPopup.getByRole('button', { name: 'Sign' }).click();
    const signed = await outcome(app);
    assert.equal(signed.ok, true, JSON.stringify(signed));
    const { payload, payloadText, bchAddr, signature } = signed.value;
    assert.equal(bchAddr, granted.value.bchAddr);
    assert.deepEqual(Object.keys(payload), ['signedBy', 'requestedBy', 'data', 'timestamp']);
    assert.equal(payload.signedBy, `localhost:${s.sigil.port}`);
    assert.equal(payload.requestedBy, `127.0.0.1:${s.app.port}`);
    assert.equal(JSON.stringify(payload), payloadText);
    assert.match(signature, /^[HI][A-Za-z0-9+/]{86}=$/, 'base64 BSM with a compressed-key header');
    const first = await verify(s.sigil.url, { payload: payloadText, address: bchAddr, signature });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.verified, true);
    assert.equal(first.body.requestedBy, `127.0.0.1:${s.app.port}`);
    const second = await verify(s.sigil.url, { payload: payloadText, address: bchAddr, signature });
    assert.equal(second.status, 401);
    assert.equal(second.body.error, 'replay_detected');
  } finally {
    await s.close();
  }
});

test('an imported WIF gives the address, key and signature of `sigil payload sign`', async () => {
  const s = await scene();
  try {
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    const popup = await requestAccess(app);
    await importWif(popup, WIF, PASS);
    await popup.getByRole('button', { name: 'Allow' }).click();
    const granted = await outcome(app);
    assert.equal(granted.value.pubkey, PUBKEY);

    await setAction(app, `() => wallet.sign({ hello: "world", n: [1, 2.5, null] })`);
    const signPopup = await clickForPopup(app);
    await signPopup.getByRole('button', { name: 'Sign' }).click();
    const signed = await outcome(app);
    assert.equal(signed.ok, true, JSON.stringify(signed));
    const cli = JSON.parse(
      sigilCli(
        [
          'payload', 'sign', '--json',
          '--requested-by', signed.value.payload.requestedBy,
          '--signed-by', signed.value.payload.signedBy,
          '--timestamp', String(signed.value.payload.timestamp),
          '--data', JSON.stringify(signed.value.payload.data),
        ],
        { SIGIL_WIF: WIF },
      ),
    );
    assert.equal(signed.value.payloadText, cli.payload);
    assert.equal(signed.value.bchAddr, cli.address);
    assert.equal(granted.value.bchAddr, cli.address);
    assert.equal(signed.value.signature, cli.signature);
  } finally {
    await s.close();
  }
});

test('a wrong passphrase does not unlock; the key is never stored in any encoding', async () => {
  const s = await scene();
  try {
    const wallet = await s.context.newPage();
    await wallet.goto(`${s.sigil.url}/wallet`);
    await importWif(wallet, WIF, PASS);
    await wallet.getByRole('heading', { name: 'Your wallet' }).waitFor();
    const stored = await dumpStorage(wallet);
    const priv = Buffer.from(PRIV_HEX, 'hex');
    for (const [what, text] of [
      ['WIF', WIF],
      ['hex', PRIV_HEX],
      ['HEX', PRIV_HEX.toUpperCase()],
      ['base64', priv.toString('base64')],
      ['base64url', priv.toString('base64url')],
      ['bytes', JSON.stringify(Array.from(priv)).slice(1, -1)],
    ]) {
      assert.ok(!stored.includes(text), `the storage holds the key as ${what}`);
    }
    assert.match(stored, /"extractable":false/, 'the unlock key is a non-extractable CryptoKey');

    await wallet.getByRole('button', { name: 'Lock' }).click();
    await wallet.getByRole('heading', { name: 'Unlock your wallet' }).waitFor();
    assert.match(await wallet.getByLabel('Key', { exact: true }).inputValue(), /^bitcoincash:q/);
    assert.equal(await wallet.locator('#unlock-passphrase').getAttribute('autocomplete'), 'current-password');
    assert.equal(await wallet.locator('#unlock-address').getAttribute('autocomplete'), 'username');
    await unlock(wallet, 'not the passphrase');
    await wallet.getByRole('alert').filter({ hasText: 'Wrong passphrase' }).waitFor();
    assert.equal(await wallet.getByRole('heading', { name: 'Unlock your wallet' }).isVisible(), true);
    const state = JSON.parse(await dumpStorage(wallet)).idb['sigil-wallet'].state;
    assert.equal(state.session, undefined, 'no unlock session');
    assert.equal(state.failures.count, 1);
    await unlock(wallet, PASS);
    await wallet.getByRole('heading', { name: 'Your wallet' }).waitFor();
  } finally {
    await s.close();
  }
});

test('Export backup gives a .bep that Node WebCrypto decrypts to {"wif"} and that imports back', async () => {
  const s = await scene();
  try {
    const wallet = await s.context.newPage();
    await wallet.goto(`${s.sigil.url}/wallet`);
    await importWif(wallet, WIF, PASS);
    await wallet.getByRole('heading', { name: 'Your wallet' }).waitFor();
    const address = await wallet.locator('#home-address').textContent();
    const download = wallet.waitForEvent('download');
    await wallet.getByRole('button', { name: 'Export backup' }).click();
    const file = await download;
    assert.match(file.suggestedFilename(), /\.bep$/);
    const path = await file.path();
    const { readFile } = await import('node:fs/promises');
    const text = (await readFile(path, 'utf8')).trim();
    const bytes = Buffer.from(text, 'base64');
    const [salt, iv, sealed] = [bytes.subarray(0, 16), bytes.subarray(16, 28), bytes.subarray(28)];
    const material = await webcrypto.subtle.importKey('raw', Buffer.from(PASS), 'PBKDF2', false, ['deriveKey']);
    const key = await webcrypto.subtle.deriveKey(
      { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: 600_000 },
      material,
      { name: 'AES-GCM', length: 256 },
      false,
      ['decrypt'],
    );
    const plain = await webcrypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, sealed);
    assert.deepEqual(JSON.parse(Buffer.from(plain).toString('utf8')), { wif: WIF });

    // Into a fresh browser profile: the backup file and its passphrase.
    const other = await s.browser.newContext();
    const page = await other.newPage();
    await page.goto(`${s.sigil.url}/wallet`);
    await page.getByRole('button', { name: 'I have a key' }).click();
    const form = page.locator('#import-form');
    await form.getByLabel('Backup file').setInputFiles(path);
    await form.getByRole('textbox', { name: 'Passphrase', exact: true }).fill('wrong passphrase');
    await page.getByRole('button', { name: 'Import key' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong passphrase' }).waitFor();
    await form.getByRole('textbox', { name: 'Passphrase', exact: true }).fill(PASS);
    await page.getByRole('button', { name: 'Import key' }).click();
    await page.getByRole('heading', { name: 'Your wallet' }).waitFor();
    assert.equal(await page.locator('#home-address').textContent(), address);
    await other.close();
  } finally {
    await s.close();
  }
});

test('from the fifth wrong passphrase in a row, the next try must wait', async () => {
  const s = await scene();
  try {
    const wallet = await s.context.newPage();
    await wallet.goto(`${s.sigil.url}/wallet`);
    await importWif(wallet, WIF, PASS);
    await wallet.getByRole('heading', { name: 'Your wallet' }).waitFor();
    await wallet.getByRole('button', { name: 'Lock' }).click();
    for (let i = 0; i < 5; i++) {
      await unlock(wallet, `wrong passphrase ${i}`);
      await wallet.getByRole('alert').filter({ hasText: 'Wrong passphrase' }).waitFor();
      await wallet.evaluate(() => { document.getElementById('alert').textContent = ''; });
    }
    // Even the right passphrase waits now: the delay is checked first.
    await unlock(wallet, PASS);
    await wallet.getByRole('alert').filter({ hasText: 'Too many wrong passphrases' }).waitFor();
    assert.equal(await wallet.getByRole('heading', { name: 'Unlock your wallet' }).isVisible(), true);
    await wallet.waitForTimeout(1100);
    await unlock(wallet, PASS);
    await wallet.getByRole('heading', { name: 'Your wallet' }).waitFor();
  } finally {
    await s.close();
  }
});

test('keyboard only: the consent screen and the sign prompt work with Tab, Space and Enter', async () => {
  const s = await scene();
  try {
    const setup = await s.context.newPage();
    await setup.goto(`${s.sigil.url}/wallet`);
    await importWif(setup, WIF, PASS);
    await setup.getByRole('heading', { name: 'Your wallet' }).waitFor();
    const app = await s.context.newPage();
    await app.goto(s.appUrl);
    await setAction(app, '() => wallet.requestAccess(["signature"])');
    await app.focus('#go');
    const opened = s.context.waitForEvent('page');
    await app.keyboard.press('Enter'); // a key press is a user gesture too
    const popup = await opened;
    await popup.getByRole('heading', { name: 'Connect this site?' }).waitFor();
    const focusedName = () => popup.evaluate(() => document.activeElement?.textContent?.trim() || document.activeElement?.id);
    assert.equal(await focusedName(), 'Connect this site?', 'focus starts on the question');
    const seen = [];
    for (let i = 0; i < 8 && (await focusedName()) !== 'Allow'; i++) {
      await popup.keyboard.press('Tab');
      seen.push(await focusedName());
    }
    assert.equal(await focusedName(), 'Allow', `tab order: ${seen.join(' → ')}`);
    await popup.keyboard.press('Enter');
    const granted = await outcome(app);
    assert.equal(granted.ok, true, JSON.stringify(granted));

    await setAction(app, '() => wallet.sign({ via: "keyboard" })');
    await app.focus('#go');
    const signOpened = s.context.waitForEvent('page');
    await app.keyboard.press('Enter');
    const sign = await signOpened;
    await sign.getByRole('heading', { name: 'Sign this data?' }).waitFor();
    for (let i = 0; i < 8; i++) {
      const id = await sign.evaluate(() => document.activeElement?.id);
      if (id === 'sign') break;
      await sign.keyboard.press('Tab');
    }
    await sign.keyboard.press('Space');
    const signed = await outcome(app);
    assert.equal(signed.ok, true, JSON.stringify(signed));
    assert.deepEqual(signed.value.payload.data, { via: 'keyboard' });
  } finally {
    await s.close();
  }
});
