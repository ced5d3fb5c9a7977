// Better Auth as the relying party (README.md, "Sign in with sigil"): its
// genericOAuth plugin (1.7: a social provider, signIn.social and
// /api/auth/callback/:id), configured by discovery as the README says,
// on http://127.0.0.1:Q with an in-memory database; a person in headless
// Chromium signs in on sigil's login page (http://localhost:P) and allows
// the app; Better Auth exchanges the code (PKCE), reads /userinfo and makes
// its user, account and session.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { betterAuth } from 'better-auth';
import { memoryAdapter } from 'better-auth/adapters/memory';
import { toNodeHandler } from 'better-auth/node';
import { genericOAuth } from 'better-auth/plugins';

import { createKeyOnLoginPage, freePort, launch, registerClient, sigilCli, startSigil } from './support.mjs';

const HOME = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Better Auth app</title>
<button id="go" type="button">Sign in with sigil</button>
<script>
document.getElementById('go').addEventListener('click', async () => {
  const answer = await fetch('/api/auth/sign-in/social', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ provider: 'sigil', callbackURL: '/done' }),
  });
  location.href = (await answer.json()).url;
});
</script></html>`;

/** A Better Auth app on 127.0.0.1:`port` whose one provider is sigil. */
async function startBetterAuthApp({ port, issuer, clientId, clientSecret }) {
  const db = { user: [], session: [], account: [], verification: [] };
  const baseURL = `http://127.0.0.1:${port}`;
  const auth = betterAuth({
    baseURL,
    secret: 'a test secret of at least thirty-two characters',
    database: memoryAdapter(db),
    plugins: [
      genericOAuth({
        config: [
          {
            providerId: 'sigil',
            discoveryUrl: `${issuer}/.well-known/openid-configuration`,
            clientId,
            // Better Auth sends a secret in the form unless told "basic".
            ...(clientSecret ? { clientSecret, authentication: 'basic' } : {}),
            scopes: ['openid', 'profile', 'offline_access'],
            pkce: true,
            mapProfileToUser: (profile) => ({
              email: `${profile.sub}@users.sigil.invalid`,
              name: profile.name ?? profile.address,
            }),
          },
        ],
      }),
    ],
  });
  const handler = toNodeHandler(auth);
  const server = createServer((request, response) => {
    const path = new URL(request.url, baseURL).pathname;
    if (path === '/' || path === '/done') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return response.end(path === '/' ? HOME : '<!doctype html><title>Done</title><h1>Signed in</h1>');
    }
    return handler(request, response);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return { url: baseURL, db, stop: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * Signs a person in through a Better Auth app whose client is made by
 * `register(sigil, redirectUri)` → `{client_id, client_secret?}`.
 */
async function signInThroughBetterAuth(register) {
  const sigil = await startSigil();
  const port = await freePort();
  const redirectUri = `http://127.0.0.1:${port}/api/auth/callback/sigil`;
  const client = await register(sigil, redirectUri);
  const app = await startBetterAuthApp({
    port,
    issuer: sigil.url,
    clientId: client.client_id,
    clientSecret: client.client_secret,
  });
  const browser = await launch();
  try {
    const context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await page.goto(`${app.url}/`);
    await page.getByRole('button', { name: 'Sign in with sigil' }).click();
    await page.waitForURL((url) => url.pathname === '/oauth2/login');
    assert.match(await page.getByRole('note', { name: 'App asking' }).innerText(), /Better Auth app/);
    await createKeyOnLoginPage(page, 'correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Better Auth app wants to sign you in' }).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${app.url}/done`);

    assert.equal(app.db.user.length, 1);
    const [user] = app.db.user;
    const [account] = app.db.account;
    assert.equal(account.providerId, 'sigil');
    assert.match(account.accountId, /^0[23][0-9a-f]{64}$/, 'the account is the person key');
    assert.equal(user.email, `${account.accountId}@users.sigil.invalid`);
    assert.ok(account.accessToken, 'the access token kept');
    assert.ok(account.refreshToken, 'the refresh token kept');
    assert.equal(app.db.session.length, 1);
    const cookies = (await context.cookies(app.url)).map((c) => c.name);
    assert.ok(cookies.some((name) => name.includes('session_token')), `a Better Auth session: ${cookies}`);
    // The token Better Auth holds reads sigil's /userinfo.
    const me = await fetch(`${sigil.url}/userinfo`, { headers: { authorization: `Bearer ${account.accessToken}` } });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).sub, account.accountId);
  } finally {
    await browser.close();
    await app.stop();
    await sigil.stop();
  }
}

test("Better Auth's genericOAuth signs a person in with sigil: a public client from /oauth2/register, code with PKCE, userinfo; its user, account and session", () =>
  signInThroughBetterAuth((sigil, redirectUri) =>
    registerClient(sigil.url, {
      client_name: 'Better Auth app',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
    })));

test("Better Auth's genericOAuth with its clientSecret: a client_secret_basic client from sigil clients add", () =>
  signInThroughBetterAuth((sigil, redirectUri) =>
    JSON.parse(
      sigilCli([
        'clients', 'add', '--database', `sqlite://${sigil.dir}/sigil.db`, '--json',
        '--name', 'Better Auth app', '--redirect-uri', redirectUri,
        '--auth', 'client_secret_basic', '--grant-type', 'refresh_token',
      ]),
    )));
