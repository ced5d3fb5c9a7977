// The person's key in this browser, shared by the wallet page and the login
// page (docs/protocol.md §16, §17): the page's config, the unlock session,
// signing with the key, and the screens that create, import and back up a
// key (src/parts/welcome.html and backup.html, in both pages).

import * as crypto from './crypto.js';
import * as store from './store.js';
import { $, announce, el, show } from './view.js';

/** The page's config, from its `<meta name="sigil-wallet">` (no inline script). */
export const config = JSON.parse(document.querySelector('meta[name="sigil-wallet"]')?.content || '{}');
/** The issuer: what the wallet's statements name. */
export const ISSUER = config.issuer || window.location.origin;
const UNLOCK_MS = (config.unlockMinutes || 15) * 60_000;

// ----------------------------------------------------------- the session --

/** The unlock session's key, when one is in force. */
export async function session() {
  const current = await store.get('session');
  if (!current || current.until <= Date.now()) {
    if (current) await store.remove('session');
    return null;
  }
  return current.key;
}

async function startSession(key) {
  await store.put('session', { key, until: Date.now() + UNLOCK_MS });
}

/** Ends the unlock session at once. */
export async function endSession() {
  await store.remove('session');
}

/** Runs `use(priv)` with the key's bytes, then zeroes them. */
export async function withKey(use) {
  const key = await session();
  if (!key) throw new Error('the wallet is locked');
  const vault = await store.vault();
  const { priv } = crypto.decodeWif(crypto.wifOfPlaintext(await crypto.openBep(vault.bep, key)));
  try {
    return await use(priv);
  } finally {
    priv.fill(0);
  }
}

/** BSM signature (base64, compressed-key header) of `message` by the unlocked key. */
export function signMessage(message) {
  return withKey((priv) => crypto.bsmSign(message, priv, true));
}

function failureDelay(count) {
  return count < 5 ? 0 : Math.min(2 ** (count - 5), 30) * 1000;
}

/**
 * Unlocks the stored key with `passphrase` and starts the session. Throws
 * an `Error` whose message is the sentence to announce: a wrong passphrase
 * (counted: five in a row add a delay), or the delay still running.
 */
export async function unlock(passphrase) {
  const vault = await store.vault();
  const failures = (await store.get('failures')) ?? { count: 0, last: 0 };
  const wait = failures.last + failureDelay(failures.count) - Date.now();
  if (wait > 0) {
    throw new Error(`Too many wrong passphrases. Try again in ${Math.ceil(wait / 1000)} s.`);
  }
  try {
    const key = await crypto.deriveKey(passphrase, crypto.parseBep(vault.bep).salt);
    crypto.wifOfPlaintext(await crypto.openBep(vault.bep, key));
    await store.remove('failures');
    await startSession(key);
  } catch {
    await store.put('failures', { count: failures.count + 1, last: Date.now() });
    throw new Error('Wrong passphrase. The wallet stays locked.');
  }
}

// --------------------------------------------------------- create/import --

function passphraseProblem(pass, confirm) {
  if (pass.length < crypto.MIN_PASSPHRASE) {
    return `The passphrase needs at least ${crypto.MIN_PASSPHRASE} characters.`;
  }
  if (confirm !== undefined && pass !== confirm) return 'The two passphrases differ.';
  return null;
}

async function saveVault(bep, priv) {
  const pubkey = crypto.publicKey(priv, true);
  const vault = {
    bep,
    address: crypto.cashaddrOf(pubkey),
    pubkey: crypto.bytesToHex(pubkey),
    createdAt: Date.now(),
  };
  await store.put('vault', vault);
  await store.remove('failures');
  return vault;
}

async function sealNew(wif, pass) {
  const salt = globalThis.crypto.getRandomValues(new Uint8Array(16));
  const key = await crypto.deriveKey(pass, salt);
  return { bep: await crypto.sealBep(wif, key, salt), key };
}

/** `error`'s message as a sentence: capitalised, with a full stop. */
export function sentence(error) {
  const text = String(error?.message || error);
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

/** Disables `form`'s buttons while it works. */
export function busy(form, on) {
  for (const button of form.querySelectorAll('button')) button.disabled = on;
  form.setAttribute('aria-busy', String(on));
}

async function onCreate(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const pass = form.elements.passphrase.value;
  const problem = passphraseProblem(pass, form.elements.confirm.value);
  if (problem) return announce(problem);
  busy(form, true);
  const priv = crypto.randomPrivateKey();
  const wif = crypto.encodeWif(priv);
  const { bep, key } = await sealNew(wif, pass);
  const vault = await saveVault(bep, priv);
  priv.fill(0);
  await startSession(key);
  form.reset();
  busy(form, false);
  navigator.storage?.persist?.().catch(() => {});
  showBackup(vault);
}

async function onImport(event, done) {
  event.preventDefault();
  const form = event.currentTarget;
  const pass = form.elements.passphrase.value;
  const file = form.elements.backup.files[0];
  const wifText = form.elements.wif.value.trim();
  if (!file && !wifText) return announce('Paste a private key (WIF) or choose a backup file.');
  busy(form, true);
  try {
    let bep;
    let key;
    let priv;
    if (file) {
      const text = (await file.text()).trim();
      const { salt } = crypto.parseBep(text);
      if (pass.length === 0) throw new Error("Enter the backup file's passphrase.");
      key = await crypto.deriveKey(pass, salt);
      const wif = crypto.wifOfPlaintext(await crypto.openBep(text, key));
      ({ priv } = crypto.decodeWif(wif));
      bep = text;
    } else {
      const problem = passphraseProblem(pass, form.elements.confirm.value);
      if (problem) throw new Error(problem);
      ({ priv } = crypto.decodeWif(wifText));
      ({ bep, key } = await sealNew(wifText, pass));
    }
    const vault = await saveVault(bep, priv);
    priv.fill(0);
    await startSession(key);
    form.reset();
    navigator.storage?.persist?.().catch(() => {});
    await done(vault);
  } catch (error) {
    announce(sentence(error));
  } finally {
    busy(form, false);
  }
}

/** Shows the screen to create or import a key. */
export function showWelcome() {
  show('welcome', { focus: '#create-passphrase' });
}

// ------------------------------------------------------------- backup --

let backupDone = false;

function showBackup(vault) {
  backupDone = false;
  $('#backup-continue').disabled = true;
  $('#backup-wif').hidden = true;
  $('#backup-wif').textContent = '';
  $('#backup-address').textContent = vault.address;
  show('backup', { focus: '#backup-download' });
}

/** Downloads the vault's `.bep` backup. */
export function download(vault) {
  const blob = new Blob([vault.bep], { type: 'application/octet-stream' });
  const link = el('a', { href: URL.createObjectURL(blob), download: `sigil-${vault.address.slice(-8)}.bep` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

function backedUp() {
  backupDone = true;
  $('#backup-continue').disabled = false;
}

// --------------------------------------------------------------- wiring --

/**
 * Wires the create, import and backup screens; `done(vault)` runs once a
 * key is in place and unlocked (after an import, or after the backup step
 * of a new key, which cannot be skipped).
 */
export function wireKeyScreens(done) {
  $('#create-form').addEventListener('submit', onCreate);
  $('#import-form').addEventListener('submit', (event) => onImport(event, done));
  $('#show-create').addEventListener('click', () => {
    $('#create-form').hidden = false;
    $('#import-form').hidden = true;
    $('#show-create').setAttribute('aria-pressed', 'true');
    $('#show-import').setAttribute('aria-pressed', 'false');
  });
  $('#show-import').addEventListener('click', () => {
    $('#create-form').hidden = true;
    $('#import-form').hidden = false;
    $('#show-create').setAttribute('aria-pressed', 'false');
    $('#show-import').setAttribute('aria-pressed', 'true');
  });
  $('#backup-download').addEventListener('click', async () => {
    download(await store.vault());
    backedUp();
  });
  $('#backup-show').addEventListener('click', async () => {
    const wif = await withKey((priv) => crypto.encodeWif(priv));
    $('#backup-wif').textContent = wif;
    $('#backup-wif').hidden = false;
    backedUp();
  });
  $('#backup-continue').addEventListener('click', async () => {
    if (!backupDone) return;
    $('#backup-wif').textContent = '';
    await done(await store.vault());
  });
}
