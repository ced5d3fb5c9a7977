// "Sign in with sigil" end to end (docs/protocol.md §16, §17): a real
// relying party (web/examples/sign-in-with-sigil.mjs, openid-client) on
// http://127.0.0.1:Q, sigil on http://localhost:P (another site), and a
// person in headless Chromium who signs in on sigil's login page with the
// wallet's key and allows the app, driven by the controls' accessible
// names. Then the attacks of docs/security.md O6, O7, O12 and origin
// confusion, from a page on the app's site.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';

import { startRelyingParty } from '../examples/sign-in-with-sigil.mjs';
import * as crypto from '../src/crypto.js';
import { createKeyOnLoginPage, freePort, importWif, launch, sigilCli, startSigil, startSite } from './support.mjs';

const PASS = 'correct horse battery';
// tests/vectors/bsm_sign.json "bsv-sdk-hello-world".
const WIF = 'L211enC224G1kV8pyyq7bjVd9SxZebnRYEzzM3i7ZHCc1c5E7dQu';
const PUBKEY = '03bbce95ff192e17a6d842cbafe14f7f192ac0466e7f0928c187398e627e66a84f';

const pattern = (text) => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

/** The login form's passphrase field (the create and import forms have one too). */
const passphrase = (page) => page.locator('#signin-form').getByLabel('Passphrase', { exact: true });

/**
 * `sigil clients add … --json` against the running `sigil`'s database, as
 * the README has it: `{client_id, client_secret?, …}`.
 */
function clientsAdd(sigil, args) {
  return JSON.parse(sigilCli(['clients', 'add', '--database', `sqlite://${sigil.dir}/sigil.db`, '--json', ...args]));
}

/**
 * sigil, the app and a browser. The app registers itself through RFC 7591
 * (openid-client), or with `auth` uses a client of `sigil clients add`.
 */
async function scene({ auth } = {}) {
  const sigil = await startSigil();
  let options = { issuer: sigil.url, port: 0, clientName: 'Tea Shop' };
  if (auth) {
    const port = await freePort();
    const added = clientsAdd(sigil, ['--name', 'Tea Shop', '--redirect-uri', `http://127.0.0.1:${port}/callback`, '--auth', auth, '--grant-type', 'refresh_token']);
    options = { ...options, port, clientId: added.client_id, clientSecret: added.client_secret };
  }
  const rp = await startRelyingParty(options);
  const browser = await launch();
  const context = await browser.newContext();
  context.setDefaultTimeout(15_000);
  return {
    sigil,
    rp,
    browser,
    context,
    clientId: rp.config.clientMetadata().client_id,
    async close() {
      await browser.close();
      await rp.stop();
      await sigil.stop();
    },
  };
}

/** From the app's home page to sigil's login page. */
async function startSignIn(page, rp) {
  await page.goto(`${rp.url}/`);
  await page.getByRole('link', { name: 'Sign in with sigil' }).click();
  await page.waitForURL((url) => url.pathname === '/oauth2/login');
}

/** Creates a key on the login page (no key in this browser yet). */
const createOnLoginPage = (page) => createKeyOnLoginPage(page, PASS);

/** The app's session once the browser is back on its /me page. */
async function signedIn(page, rp) {
  await page.waitForURL(`${rp.url}/me`);
  const sub = await page.locator('#sub').innerText();
  const session = [...rp.sessions.values()].find((s) => s.claims.sub === sub);
  assert.ok(session, 'the app kept the session');
  return session;
}

test('openid-client signs a new key in: discovery, code with PKCE, state, nonce and iss, the id_token by the JWKS, userinfo, refresh, revocation', async () => {
  const s = await scene();
  try {
    const metadata = s.rp.config.serverMetadata();
    assert.equal(metadata.issuer, s.sigil.url);
    assert.equal(metadata.authorization_response_iss_parameter_supported, true);
    const page = await s.context.newPage();
    const callbacks = [];
    page.on('request', (request) => {
      if (request.url().startsWith(`${s.rp.url}/callback`)) callbacks.push(new URL(request.url()));
    });
    await startSignIn(page, s.rp);
    // sigil's own origin, naming the app and where it sends the person back.
    assert.equal(new URL(page.url()).origin, s.sigil.url);
    const asking = await page.getByRole('note', { name: 'App asking' }).innerText();
    assert.match(asking, /Tea Shop/);
    assert.match(asking, pattern(new URL(s.rp.url).host));
    await createOnLoginPage(page);
    // Creating the key unlocked it: Sign in asks for nothing more.
    await page.getByRole('heading', { name: 'Sign in to Tea Shop' }).waitFor();
    assert.equal(await passphrase(page).isVisible(), false);
    await page.getByRole('button', { name: 'Sign in' }).click();

    await page.getByRole('heading', { name: 'Tea Shop wants to sign you in' }).waitFor();
    const consent = page.locator('main');
    assert.match(await consent.innerText(), pattern(new URL(s.rp.url).host));
    await page.getByRole('button', { name: 'Allow' }).click();
    const session = await signedIn(page, s.rp);

    // The callback carried code, state and iss; openid-client checked them.
    assert.equal(callbacks.length, 1);
    assert.equal(callbacks[0].searchParams.get('iss'), s.sigil.url);
    assert.ok(callbacks[0].searchParams.get('state'));
    assert.ok(callbacks[0].searchParams.get('code'));
    const { claims, tokens, userinfo } = session;
    assert.equal(claims.iss, s.sigil.url);
    assert.equal(claims.aud, s.clientId);
    assert.ok(claims.nonce, 'the nonce the app sent, checked by openid-client');
    assert.match(claims.sub, /^0[23][0-9a-f]{64}$/);
    assert.equal(userinfo.sub, claims.sub);
    assert.equal(userinfo.pubkey, claims.sub);

    // jose verifies the id_token against sigil's published keys.
    const jwks = createRemoteJWKSet(new URL(`${s.sigil.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(tokens.id_token, jwks, {
      issuer: s.sigil.url,
      audience: s.clientId,
      algorithms: ['ES256'],
    });
    assert.equal(payload.sub, claims.sub);
    assert.equal(payload.nonce, claims.nonce);
    assert.equal(protectedHeader.alg, 'ES256');
    assert.ok(decodeProtectedHeader(tokens.id_token).kid);
    const forged = `${tokens.id_token.slice(0, -4)}AAAA`;
    await assert.rejects(jwtVerify(forged, jwks, { issuer: s.sigil.url, audience: s.clientId }));

    // Refresh rotates; the new access token reads /userinfo.
    assert.ok(tokens.refresh_token);
    const rotated = await oidc.refreshTokenGrant(s.rp.config, tokens.refresh_token);
    assert.notEqual(rotated.refresh_token, tokens.refresh_token);
    const again = await oidc.fetchUserInfo(s.rp.config, rotated.access_token, claims.sub);
    assert.equal(again.sub, claims.sub);

    // Sign out at the app revokes (RFC 7009) the family and its access tokens.
    session.tokens = rotated;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${s.rp.url}/`);
    await assert.rejects(oidc.refreshTokenGrant(s.rp.config, rotated.refresh_token), (error) => {
      assert.equal(error.error, 'invalid_grant');
      return true;
    });
    await assert.rejects(oidc.fetchUserInfo(s.rp.config, rotated.access_token, claims.sub));
  } finally {
    await s.close();
  }
});

test('the example app with a client_secret_basic client from sigil clients add: signed in, refreshed; a wrong secret is invalid_client', async () => {
  const s = await scene({ auth: 'client_secret_basic' });
  try {
    assert.equal(s.rp.config.clientMetadata().client_id, s.clientId);
    const page = await s.context.newPage();
    await startSignIn(page, s.rp);
    await createOnLoginPage(page);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    const { tokens, claims } = await signedIn(page, s.rp);
    assert.equal(claims.aud, s.clientId);
    const rotated = await oidc.refreshTokenGrant(s.rp.config, tokens.refresh_token);
    assert.ok(rotated.access_token);
    const wrong = await oidc.discovery(new URL(s.sigil.url), s.clientId, undefined, oidc.ClientSecretBasic('not the secret'), {
      execute: [oidc.allowInsecureRequests],
    });
    // RFC 6749 §5.2: 401 with a WWW-Authenticate challenge, which
    // openid-client raises before the body; the body is the §8 error.
    const refused = await oidc.refreshTokenGrant(wrong, rotated.refresh_token).then(
      () => assert.fail('a wrong secret refreshed'),
      (error) => error,
    );
    assert.equal(refused.status, 401);
    assert.equal(refused.cause[0].scheme, 'basic');
    assert.equal((await refused.response.json()).error, 'invalid_client');
    // Nothing was consumed by the refused request.
    assert.ok((await oidc.refreshTokenGrant(s.rp.config, rotated.refresh_token)).access_token);
  } finally {
    await s.close();
  }
});

test('the app refuses a callback whose iss or state was changed on the way', async () => {
  const s = await scene();
  try {
    const page = await s.context.newPage();
    await startSignIn(page, s.rp);
    await createOnLoginPage(page);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await signedIn(page, s.rp);
    // Consent is remembered: the next sign-ins come straight back, and the
    // callback is altered in flight (a mix-up, RFC 9207; a forged state).
    for (const [name, value, words] of [
      ['iss', 'https://other.example', /iss/],
      ['state', 'forged', /state/],
    ]) {
      // Routes see only a navigation's first request, not its redirects:
      // the app's /login is fetched, then sigil's answer, by hand.
      const login = (url) => url.origin === s.rp.url && url.pathname === '/login';
      await page.route(login, async (route) => {
        const start = await route.fetch({ maxRedirects: 0 });
        const back = await page.request.get(start.headers().location, { maxRedirects: 0 });
        const url = new URL(back.headers().location);
        assert.equal(url.searchParams.get('iss'), s.sigil.url);
        url.searchParams.set(name, value);
        await route.fulfill({
          status: 302,
          headers: { location: url.href, 'set-cookie': start.headers()['set-cookie'] },
        });
      });
      await page.goto(`${s.rp.url}/login`);
      await page.locator('#error').waitFor();
      assert.match(await page.locator('#error').innerText(), words, name);
      await page.unroute(login);
    }
    assert.equal(s.rp.sessions.size, 1, 'no session from the altered callbacks');
  } finally {
    await s.close();
  }
});

test('a key kept by the wallet unlocks on the login page: locked, a wrong passphrase is announced, the right one signs in by keyboard', async () => {
  const s = await scene();
  try {
    // The person set up the wallet earlier, at /wallet, and locked it.
    const wallet = await s.context.newPage();
    await wallet.goto(`${s.sigil.url}/wallet`);
    await importWif(wallet, WIF, PASS);
    await wallet.getByRole('heading', { name: 'Your wallet' }).waitFor();
    const address = await wallet.locator('#home-address').innerText();
    await wallet.getByRole('button', { name: 'Lock' }).click();
    await wallet.getByRole('heading', { name: 'Unlock your wallet' }).waitFor();
    await wallet.close();

    const page = await s.context.newPage();
    await startSignIn(page, s.rp);
    await page.getByRole('heading', { name: 'Sign in to Tea Shop' }).waitFor();
    const key = page.getByLabel('Key', { exact: true });
    assert.equal(await key.inputValue(), address);
    assert.equal(await key.getAttribute('autocomplete'), 'username');
    const pass = passphrase(page);
    assert.equal(await pass.getAttribute('autocomplete'), 'current-password');
    await pass.fill('not the passphrase');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong passphrase' }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/oauth2/login', 'still here, nothing posted');
    assert.equal(await page.getByRole('button', { name: 'Lock' }).isVisible(), false, 'no Lock while locked');
    // By keyboard: Enter in the passphrase signs in; Tab reaches Deny, then Allow.
    await pass.fill(PASS);
    await pass.press('Enter');
    await page.getByRole('heading', { name: 'Tea Shop wants to sign you in' }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Deny');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Allow');
    await page.keyboard.press('Enter');
    const session = await signedIn(page, s.rp);
    assert.equal(session.claims.sub, PUBKEY);

    // The account page lists the app; Revoke forgets it and ends its tokens.
    await page.goto(`${s.sigil.url}/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    assert.match(await page.locator('main').innerText(), pattern(address));
    await page.getByRole('button', { name: 'Revoke Tea Shop' }).click();
    await page.getByText('No app has access.').waitFor();
    await assert.rejects(oidc.refreshTokenGrant(s.rp.config, session.tokens.refresh_token));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.pathname === '/oauth2/login');
    await page.getByRole('heading', { name: 'Sign in to your sigil account' }).waitFor();
  } finally {
    await s.close();
  }
});

test('the login page without JavaScript says that it needs it', async () => {
  const sigil = await startSigil();
  const browser = await launch();
  try {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(`${sigil.url}/oauth2/login`);
    await page.getByText('Signing in needs JavaScript').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Sign in' }).isVisible(), false);
  } finally {
    await browser.close();
    await sigil.stop();
  }
});

/** The attacker's site: the app's host (another site than sigil's), one page. */
async function attackerPage(body) {
  return startSite({ '/': { body: `<!doctype html><title>Attacker</title>${body}` } });
}

/** A login challenge, its CSRF token and cookie, fetched and signed by the attacker in Node. */
async function attackersLogin(sigilUrl) {
  const answer = await fetch(`${sigilUrl}/oauth2/login`);
  const text = await answer.text();
  const hidden = (name) => {
    const value = text.match(new RegExp(`name="${name}" value="([^"]*)"`))[1];
    return value.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  };
  const message = hidden('message');
  const { priv } = crypto.decodeWif(WIF);
  return { message, csrf: hidden('csrf_token'), signature: crypto.bsmSign(message, priv, true) };
}

const autoForm = (action, fields) =>
  `<form id="f" method="post" action="${action}">${Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${String(value).replace(/"/g, '&quot;')}">`)
    .join('')}<button type="submit">Go</button></form>`;

test('cross-site form posts neither sign a person in nor allow an app: login and consent CSRF', async () => {
  const s = await scene();
  const login = await attackersLogin(s.sigil.url);
  const attacker = await attackerPage(
    autoForm(`${s.sigil.url}/oauth2/login`, {
      message: login.message,
      signature: login.signature,
      csrf_token: login.csrf,
      return_to: '/account',
    }),
  );
  try {
    const page = await s.context.newPage();
    // The victim has a login page of their own open (their own login cookie).
    await page.goto(`${s.sigil.url}/oauth2/login`);
    const evil = await s.context.newPage();
    await evil.goto(attacker.url());
    const [answer] = await Promise.all([
      evil.waitForResponse(`${s.sigil.url}/oauth2/login`),
      evil.getByRole('button', { name: 'Go' }).click(),
    ]);
    assert.equal(answer.status(), 403);
    assert.equal((await answer.json()).error, 'access_denied');
    const names = (await s.context.cookies(s.sigil.url)).map((c) => c.name);
    assert.ok(!names.includes('sigil_session'), `no session: ${names}`);

    // Signed in for real, the victim meets a forged Allow.
    await startSignIn(page, s.rp);
    await createOnLoginPage(page);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tea Shop wants to sign you in' }).waitFor();
    const request = await page.locator('input[name="request"]').inputValue();
    const forged = await attackerPage(
      autoForm(`${s.sigil.url}/oauth2/consent`, { request, decision: 'allow', csrf_token: 'guess' }),
    );
    try {
      await evil.goto(forged.url());
      const [refused] = await Promise.all([
        evil.waitForResponse(`${s.sigil.url}/oauth2/consent`),
        evil.getByRole('button', { name: 'Go' }).click(),
      ]);
      assert.equal(refused.status(), 403);
      const body = await refused.json();
      assert.equal(body.error, 'access_denied');
      assert.match(body.error_description, /CSRF/);
      assert.equal(s.rp.sessions.size, 0, 'no code reached the app');
    } finally {
      await forged.stop();
    }
  } finally {
    await attacker.stop();
    await s.close();
  }
});

test('a session cookie planted before the login is replaced by a new one and signs nobody in', async () => {
  const s = await scene();
  try {
    const planted = 'planted-by-the-attacker-0000000000000000000';
    await s.context.addCookies([{ name: 'sigil_session', value: planted, url: s.sigil.url }]);
    const page = await s.context.newPage();
    await startSignIn(page, s.rp);
    await createOnLoginPage(page);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Tea Shop wants to sign you in' }).waitFor();
    const cookie = (await s.context.cookies(s.sigil.url)).find((c) => c.name === 'sigil_session');
    assert.ok(cookie && cookie.value !== planted, 'a new session id');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Lax');
    // The planted value, in the attacker's browser, is nobody's session.
    const other = await s.browser.newContext();
    await other.addCookies([{ name: 'sigil_session', value: planted, url: s.sigil.url }]);
    const probe = await other.newPage();
    await probe.goto(`${s.sigil.url}/account`);
    assert.equal(new URL(probe.url()).pathname, '/oauth2/login');
    await other.close();
  } finally {
    await s.close();
  }
});

test('another site cannot frame the login page', async () => {
  const s = await scene();
  const attacker = await attackerPage(`<iframe name="victim" src="${'SIGIL'}/oauth2/login"></iframe>`.replace('SIGIL', s.sigil.url));
  try {
    const page = await s.context.newPage();
    const [answer] = await Promise.all([
      page.waitForResponse(`${s.sigil.url}/oauth2/login`),
      page.goto(attacker.url()),
    ]);
    assert.match(answer.headers()['content-security-policy'], /frame-ancestors 'none'/);
    assert.equal(answer.headers()['x-frame-options'], 'DENY');
    await page.waitForTimeout(300);
    const frame = page.frame({ name: 'victim' });
    assert.ok(frame, 'the frame element exists');
    assert.ok(!frame.url().startsWith(s.sigil.url), `blocked: ${frame.url()}`);
    assert.equal(await frame.getByRole('button', { name: 'Sign in' }).count(), 0);
  } finally {
    await attacker.stop();
    await s.close();
  }
});

test('origin confusion: the login page names only a registered app and redirect, and an unchecked return_to signs in to the account page', async () => {
  const s = await scene();
  try {
    const page = await s.context.newPage();
    // A link dressed as the app but sending the code elsewhere.
    const authorize = new URL(`${s.sigil.url}/oauth2/authorize`);
    for (const [name, value] of Object.entries({
      client_id: s.clientId,
      redirect_uri: 'https://evil.example/cb',
      response_type: 'code',
      scope: 'openid',
      state: 'x',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    })) authorize.searchParams.set(name, value);
    const direct = await page.goto(authorize.href);
    assert.equal(direct.status(), 400, 'an error page, never the login');
    assert.equal(new URL(page.url()).host, new URL(s.sigil.url).host);
    // The same request smuggled in as return_to: the page names no app.
    const login = new URL(`${s.sigil.url}/oauth2/login`);
    login.searchParams.set('return_to', `${authorize.pathname}${authorize.search}`);
    await page.goto(login.href);
    await createOnLoginPage(page);
    await page.getByRole('heading', { name: 'Sign in to your sigil account' }).waitFor();
    assert.equal(await page.getByRole('note', { name: 'App asking' }).isVisible(), false);
    assert.doesNotMatch(await page.locator('body').innerText(), /evil\.example|Tea Shop/);
    // A return_to off sigil's own pages: back to /account after signing in.
    login.searchParams.set('return_to', 'https://evil.example/');
    await page.goto(login.href);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${s.sigil.url}/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
  } finally {
    await s.close();
  }
});

test('a challenge left too long is replaced before signing, so a slow person still signs in', async () => {
  const s = await scene();
  try {
    const page = await s.context.newPage();
    await page.clock.install();
    await startSignIn(page, s.rp);
    await createOnLoginPage(page);
    const first = await page.locator('input[name="message"]').inputValue();
    await page.clock.fastForward('05:00');
    const [posted] = await Promise.all([
      page.waitForRequest((r) => r.method() === 'POST' && r.url() === `${s.sigil.url}/oauth2/login`),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ]);
    const sent = new URLSearchParams(posted.postData()).get('message');
    assert.match(first, /^sigil-login:v1\n/);
    assert.match(sent, /^sigil-login:v1\n/);
    assert.notEqual(sent, first, 'a fresh challenge was signed');
    await page.getByRole('heading', { name: 'Tea Shop wants to sign you in' }).waitFor();
  } finally {
    await s.close();
  }
});

test('two login tabs: the older one is refused with the error announced, and its next try signs a fresh challenge', async () => {
  const s = await scene();
  try {
    const first = await s.context.newPage();
    await startSignIn(first, s.rp);
    await createOnLoginPage(first);
    // A second tab's login page replaces the cookie the first challenge is bound to.
    const second = await s.context.newPage();
    await second.goto(first.url());
    await second.getByRole('button', { name: 'Sign in' }).waitFor();
    await first.bringToFront();
    await first.getByRole('button', { name: 'Sign in' }).click();
    // Bound to the first cookie, its CSRF token no longer matches (403).
    const alert = first.getByRole('alert');
    await alert.filter({ hasText: 'CSRF token' }).waitFor();
    assert.match(await alert.innerText(), /^The form's CSRF token is missing or wrong/);
    assert.equal(new URL(first.url()).pathname, '/oauth2/login', 'the page stays, with the refusal in words');
    assert.ok(!(await s.context.cookies(s.sigil.url)).some((c) => c.name === 'sigil_session'), 'no session');
    await first.getByRole('button', { name: 'Sign in' }).click();
    await first.getByRole('heading', { name: 'Tea Shop wants to sign you in' }).waitFor();
  } finally {
    await s.close();
  }
});
