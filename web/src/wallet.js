// The wallet page (docs/protocol.md §16): create, import, back up, unlock and
// lock a key; consent to an app's request; sign; manage connected sites.
// Opened by the SDK as a popup (then it answers exactly one request of its
// opener) or directly in a tab (then it manages the wallet).

import * as crypto from './crypto.js';
import { MAX_DATA_BYTES, PERMISSIONS, PROTOCOL, isAllowedOrigin } from './channel.js';
import * as store from './store.js';
import {
  ISSUER, busy, config, download, endSession, session, showWelcome, unlock, wireKeyScreens, withKey,
} from './vault.js';
import { $, announce, clearAlert, el, show } from './view.js';

const SIGNED_BY = config.signedBy || new URL(ISSUER).host;
const AUTO_SIGN_MS = 10 * 60_000;
const PERMISSION_SHORT = { bch_address: 'address', signature: 'signing', token: 'tokens' };
const REMEMBER = { '1h': 3_600_000, '1d': 86_400_000, '30d': 30 * 86_400_000 };
const PERMISSION_WORDS = {
  bch_address: 'See your address and public key',
  signature: 'Ask you to sign data (you see the data each time, unless you choose otherwise)',
  token: 'Get sign-in tokens for its own API from this wallet, without asking again',
};

// ------------------------------------------------------------ the request --

/** The one request this popup answers: `{origin, id, method, params}`. */
let request = null;
let answered = false;

function respond(payload) {
  if (!request || answered) return;
  answered = true;
  window.opener?.postMessage(
    { protocol: PROTOCOL, type: 'response', id: request.id, ...payload },
    request.origin,
  );
  show('done');
  setTimeout(() => window.close(), 30);
}

const reply = (result) => respond({ result: result ?? null });
const refuse = (code, message) => respond({ error: { code, message } });

function isPlainObject(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** What is wrong with a request's parameters, or null (the wallet's own check). */
function paramsProblem(method, params, origin) {
  if (!Array.isArray(params)) return 'params must be an array';
  if (method === 'requestAccess') {
    const [permissions] = params;
    if (!Array.isArray(permissions) || permissions.length === 0) return 'no permissions asked';
    const unknown = permissions.find((p) => !PERMISSIONS.includes(p));
    if (unknown !== undefined) return `unknown permission ${JSON.stringify(String(unknown))}`;
  } else if (method === 'sign') {
    const [data] = params;
    if (!isPlainObject(data)) return 'data must be a plain JSON object';
    const text = JSON.stringify(data);
    if (new TextEncoder().encode(text).length > MAX_DATA_BYTES) return 'data is too large';
  } else if (method === 'getToken') {
    const [endpoint] = params;
    let url;
    try {
      url = new URL(endpoint);
    } catch {
      return 'endpoint must be an absolute URL';
    }
    if (url.origin !== origin) return "endpoint must be on the requesting site's own origin";
    if (url.hash) return 'endpoint must not have a fragment';
  } else if (method !== 'disconnect') {
    return 'unknown method';
  }
  return null;
}

function onMessage(event) {
  // Only the window that opened this popup, only its first request.
  if (event.source !== window.opener || request) return;
  const message = event.data;
  if (!message || message.protocol !== PROTOCOL || message.type !== 'request') return;
  if (typeof message.id !== 'string' || !/^[0-9a-f]{32}$/.test(message.id)) return;
  request = { origin: event.origin, id: message.id, method: message.method, params: message.params };
  handle().catch((error) => refuse('invalid_data', String(error?.message || error)));
}

async function handle() {
  const { origin, method, params } = request;
  for (const node of document.querySelectorAll('[data-origin]')) node.textContent = origin;
  document.body.dataset.request = 'open';
  if (!isAllowedOrigin(origin)) return refuse('origin_not_allowed', `origin ${origin} is not allowed`);
  const problem = paramsProblem(method, params, origin);
  if (problem) return refuse('invalid_data', problem);
  if (method === 'disconnect') {
    await store.revoke(origin);
    return reply(null);
  }
  if (method === 'sign' || method === 'getToken') {
    const permission = method === 'sign' ? 'signature' : 'token';
    if (!(await store.grantFor(origin, permission))) {
      return refuse('not_granted', `${origin} has no ${permission} grant`);
    }
  }
  const vault = await store.vault();
  if (!vault) {
    if (method !== 'requestAccess') return refuse('not_granted', 'this browser has no wallet yet');
    return showWelcome();
  }
  if (method === 'requestAccess') return showConsent(vault);
  if (!(await session())) return showUnlock(vault);
  return proceed();
}

/** After the wallet is unlocked (or created): the request's next step. */
async function proceed() {
  if (!request) return showHome();
  const vault = await store.vault();
  if (request.method === 'requestAccess') return showConsent(vault);
  if (request.method === 'sign') {
    if (await store.autoSignFor(request.origin)) return signAndReply();
    return showSignPrompt();
  }
  if (request.method === 'getToken') return tokenAndReply();
  return showHome();
}

// -------------------------------------------------------------- lock --

async function lock() {
  await endSession();
  const vault = await store.vault();
  if (request && !answered) return showUnlock(vault);
  return vault ? showUnlock(vault) : show('welcome');
}

async function proceedOrHome(vault) {
  if (request && !answered) return proceed();
  return showHome(vault);
}

// -------------------------------------------------------------- unlock --

function showUnlock(vault) {
  $('#unlock-address').value = vault.address;
  show('unlock', { focus: '#unlock-passphrase' });
}

async function onUnlock(event) {
  event.preventDefault();
  const form = event.currentTarget;
  busy(form, true);
  try {
    await unlock(form.elements.passphrase.value);
    form.reset();
    clearAlert();
    await proceedOrHome(await store.vault());
  } catch (error) {
    announce(error.message);
    form.elements.passphrase.select();
  } finally {
    busy(form, false);
  }
}

// ------------------------------------------------------------- consent --

function showConsent(vault) {
  const list = $('#consent-permissions');
  list.replaceChildren(
    ...request.params[0].map((permission) => el('li', {}, PERMISSION_WORDS[permission])),
  );
  $('#consent-address').textContent = vault.address;
  show('consent', { focus: '#consent-heading' });
}

async function onAllow() {
  const vault = await store.vault();
  const now = Date.now();
  const expiresAt = now + (REMEMBER[$('#remember').value] ?? REMEMBER['1d']);
  const permissions = [...new Set(request.params[0])];
  const kept = (await store.grants(now)).filter(
    (g) => !(g.origin === request.origin && permissions.includes(g.permission)),
  );
  const added = permissions.map((permission) => ({
    origin: request.origin,
    permission,
    grantedAt: now,
    expiresAt,
  }));
  await store.setGrants([...kept, ...added]);
  reply({ status: 'GRANTED', bchAddr: vault.address, pubkey: vault.pubkey, permissions, expiresAt });
}

// ---------------------------------------------------------------- sign --

function payloadText(data) {
  const requestedBy = new URL(request.origin).host;
  return JSON.stringify({ signedBy: SIGNED_BY, requestedBy, data, timestamp: Date.now() });
}

function showSignPrompt() {
  $('#sign-data').textContent = JSON.stringify(request.params[0], null, 2);
  $('#sign-signed-by').textContent = SIGNED_BY;
  $('#auto-sign').checked = false;
  show('sign', { focus: '#sign-heading' });
}

async function signAndReply() {
  const text = payloadText(request.params[0]);
  const vault = await store.vault();
  const signature = await withKey((priv) => crypto.bsmSign(text, priv, true));
  reply({ payload: JSON.parse(text), payloadText: text, bchAddr: vault.address, signature });
}

async function onSign() {
  if ($('#auto-sign').checked) await store.setAutoSign(request.origin, Date.now() + AUTO_SIGN_MS);
  await signAndReply();
}

// --------------------------------------------------------------- token --

async function tokenAndReply() {
  const [endpoint] = request.params;
  const vault = await store.vault();
  const timestamp = Date.now();
  const message = `sigil-token-request:v1\nissuer:${ISSUER}\nendpoint:${endpoint}\ntimestamp:${timestamp}`;
  const signature = await withKey((priv) => crypto.bsmSign(message, priv, true));
  const answer = await fetch('/api/auth/token-for-endpoint', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ endpoint, timestamp, message, pubkey: vault.pubkey, signature }),
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    return refuse('invalid_data', `the token service refused: ${body.error_description || answer.status}`);
  }
  reply({ access_token: body.access_token, token_type: body.token_type, expires_in: body.expires_in });
}

// ---------------------------------------------------------------- home --

async function showHome(vault) {
  vault ??= await store.vault();
  if (!vault) return showWelcome();
  if (!(await session())) return showUnlock(vault);
  $('#home-address').textContent = vault.address;
  await renderSites();
  show('home', { focus: '#home-heading' });
}

function when(ms) {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

async function renderSites() {
  const byOrigin = new Map();
  for (const grant of await store.grants()) {
    const entry = byOrigin.get(grant.origin) ?? [];
    entry.push(grant);
    byOrigin.set(grant.origin, entry);
  }
  const list = $('#sites');
  $('#sites-empty').hidden = byOrigin.size > 0;
  list.replaceChildren(
    ...[...byOrigin].map(([origin, list]) => {
      const revoke = el('button', { type: 'button', class: 'secondary', 'aria-label': `Revoke ${origin}` }, 'Revoke');
      revoke.addEventListener('click', async () => {
        await store.revoke(origin);
        await renderSites();
        $('#sites-heading').focus();
      });
      const until = Math.max(...list.map((g) => g.expiresAt));
      return el(
        'li',
        { class: 'site' },
        el('div', {}, el('span', { class: 'origin-inline' }, origin),
          el('span', { class: 'muted' }, `${list.map((g) => PERMISSION_SHORT[g.permission] ?? g.permission).join(', ')} · until ${when(until)}`)),
        revoke,
      );
    }),
  );
}

// --------------------------------------------------------------- wiring --

function wire() {
  wireKeyScreens(proceedOrHome);
  $('#unlock-form').addEventListener('submit', onUnlock);
  $('#allow').addEventListener('click', onAllow);
  $('#deny').addEventListener('click', () => refuse('denied', 'the person pressed Deny'));
  $('#sign').addEventListener('click', onSign);
  $('#reject').addEventListener('click', () => refuse('denied', 'the person pressed Reject'));
  $('#export').addEventListener('click', async () => download(await store.vault()));
  for (const button of document.querySelectorAll('[data-lock]')) button.addEventListener('click', lock);
}

async function start() {
  wire();
  if (window.opener) {
    window.addEventListener('message', onMessage);
    show('waiting');
    window.opener.postMessage({ protocol: PROTOCOL, type: 'ready' }, '*');
    // Opened by a page that never asks: manage the wallet instead.
    setTimeout(() => {
      if (!request) showHome();
    }, 3000);
  } else {
    await showHome();
  }
}

start();
