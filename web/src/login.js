// The OAuth login page (docs/protocol.md §17) on sigil's origin: the wallet
// of §16 (same storage, same screens to create, import and back up a key)
// unlocks the key and signs the server's single-use challenge with BSM, then
// posts it with the form's CSRF token; the answer (a 303) sets the session
// cookie, and the page goes on to the authorization request.
//
// The post is a fetch, not the form's own submission: a browser submitting
// a form turns the challenge's line feeds into CRLF, which is no longer the
// signed text; and a refusal (an old or used challenge) is announced here
// instead of replacing the page.

import * as store from './store.js';
import {
  busy, endSession, sentence, session, showWelcome, signMessage, unlock, wireKeyScreens,
} from './vault.js';
import { $, announce, show } from './view.js';

/** A challenge lives 300 s; one older than this is replaced before signing. */
const FRESH_MS = 240_000;
let fetchedAt = Date.now();

async function showSignIn(vault) {
  vault ??= await store.vault();
  if (!vault) return showWelcome();
  $('#signin-address').value = vault.address;
  const unlocked = Boolean(await session());
  showPassphrase(!unlocked);
  show('signin', { focus: unlocked ? '#signin-heading' : '#signin-passphrase' });
}

/** The passphrase field when the key is locked; Lock when it is not. */
function showPassphrase(on) {
  $('#signin-unlock').hidden = !on;
  $('#signin-passphrase').required = on;
  document.body.dataset.locked = String(on);
}

/**
 * A fresh challenge and CSRF token in place of an old one: the login page
 * fetched again (its answer also replaces the login cookie that binds them).
 */
async function refreshChallenge(form) {
  const answer = await fetch(window.location.href, { credentials: 'same-origin', cache: 'no-store' });
  if (!answer.ok) throw new Error(`the server did not give a new challenge (HTTP ${answer.status}); reload the page`);
  const page = new DOMParser().parseFromString(await answer.text(), 'text/html');
  for (const name of ['message', 'csrf_token']) {
    const value = page.querySelector(`#signin-form input[name="${name}"]`)?.value;
    if (!value) throw new Error('the server did not give a new challenge; reload the page');
    form.elements[name].value = value;
  }
  $('#challenge').textContent = form.elements.message.value;
  fetchedAt = Date.now();
}

/** Posts the signed challenge; on success goes to `return_to`. */
async function post(form) {
  const body = new URLSearchParams();
  for (const name of ['message', 'signature', 'csrf_token', 'return_to']) body.set(name, form.elements[name].value);
  const answer = await fetch(form.action, {
    method: 'POST',
    body,
    credentials: 'same-origin',
    cache: 'no-store',
    redirect: 'manual',
  });
  // The 303 of a sign-in: its Set-Cookie is kept, its Location is return_to.
  if (answer.type === 'opaqueredirect') return window.location.assign(form.elements.return_to.value);
  const refusal = await answer.json().catch(() => ({}));
  throw new Error(refusal.error_description || `the server answered HTTP ${answer.status}; reload the page`);
}

async function onSignIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  busy(form, true);
  try {
    if (!(await session())) await unlock($('#signin-passphrase').value);
    $('#signin-passphrase').value = '';
    if (Date.now() - fetchedAt > FRESH_MS) await refreshChallenge(form);
    form.elements.signature.value = await signMessage(form.elements.message.value);
    await post(form);
  } catch (error) {
    // The next try signs a fresh challenge.
    fetchedAt = 0;
    announce(sentence(error));
    showPassphrase(!(await session()));
    busy(form, false);
    if (!$('#signin-unlock').hidden) $('#signin-passphrase').select();
  }
}

async function lock() {
  await endSession();
  await showSignIn();
}

function start() {
  wireKeyScreens(showSignIn);
  $('#signin-form').addEventListener('submit', onSignIn);
  for (const button of document.querySelectorAll('[data-lock]')) button.addEventListener('click', lock);
  return showSignIn();
}

start().catch((error) => announce(sentence(error)));
