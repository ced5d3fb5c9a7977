// Sigma Identity's own relying-party code against sigil (docs/protocol.md
// §17): `exchangeCodeForTokens` of @sigma-auth/better-auth-plugin (pinned
// in package.json), used unchanged. It signs an X-Auth-Token with the
// client's key over /api/auth/oauth2/token and the raw form body, then
// reads /api/auth/oauth2/userinfo. The client is registered with
// `bitcoin_auth_token`; a person in headless Chromium signs in on sigil's
// login page and allows the app.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { exchangeCodeForTokens } from '@sigma-auth/better-auth-plugin/server';
import { createRemoteJWKSet, jwtVerify } from 'jose';

import * as crypto from '../src/crypto.js';
import { createKeyOnLoginPage, launch, registerClient, startSigil, startSite } from './support.mjs';

// The app's own key (tests/vectors/bsm_sign.json "bsv-sdk-hello-world").
const CLIENT_WIF = 'L211enC224G1kV8pyyq7bjVd9SxZebnRYEzzM3i7ZHCc1c5E7dQu';
const CLIENT_PUBKEY = '03bbce95ff192e17a6d842cbafe14f7f192ac0466e7f0928c187398e627e66a84f';

test("@sigma-auth/better-auth-plugin's code exchange signs with the client's key and succeeds unchanged; another key is invalid_client and consumes nothing", async () => {
  const sigil = await startSigil();
  const app = await startSite({ '/callback': { body: '<!doctype html><title>Back at the app</title><p>Back</p>' } });
  const browser = await launch();
  try {
    const redirectUri = `${app.url()}/callback`;
    const client = await registerClient(sigil.url, {
      client_name: 'Sigma app',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'bitcoin_auth_token',
      bitcoin_pubkey: CLIENT_PUBKEY,
    });
    assert.equal(client.token_endpoint_auth_method, 'bitcoin_auth_token');

    const verifier = randomBytes(32).toString('base64url');
    const authorize = new URL(`${sigil.url}/api/auth/oauth2/authorize`);
    for (const [name, value] of Object.entries({
      client_id: client.client_id,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid profile',
      state: 'sigma-state',
      nonce: 'sigma-nonce',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    })) authorize.searchParams.set(name, value);

    const context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await page.goto(authorize.href);
    await createKeyOnLoginPage(page, 'correct horse battery');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Sigma app wants to sign you in' }).waitFor();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.href.startsWith(redirectUri));
    const back = new URL(page.url());
    assert.equal(back.searchParams.get('state'), 'sigma-state');
    assert.equal(back.searchParams.get('iss'), sigil.url);
    const code = back.searchParams.get('code');
    assert.ok(code);

    const options = {
      code,
      redirectUri,
      clientId: client.client_id,
      codeVerifier: verifier,
      issuerUrl: sigil.url,
    };
    // Signed by a key that is not the client's: refused, and the code stays good.
    const stranger = crypto.encodeWif(crypto.randomPrivateKey());
    await assert.rejects(exchangeCodeForTokens({ ...options, memberPrivateKey: stranger }), (error) => {
      assert.equal(error.status, 401);
      assert.equal(error.error, 'invalid_client');
      return true;
    });
    const result = await exchangeCodeForTokens({ ...options, memberPrivateKey: CLIENT_WIF });
    assert.match(result.user.sub, /^0[23][0-9a-f]{64}$/);
    assert.equal(result.user.pubkey, result.user.sub);
    assert.ok(result.refresh_token);
    const jwks = createRemoteJWKSet(new URL(`${sigil.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(result.id_token, jwks, { issuer: sigil.url, audience: client.client_id });
    assert.equal(payload.sub, result.user.sub);
    assert.equal(payload.nonce, 'sigma-nonce');
    // The code again, under a fresh X-Auth-Token: single use.
    await assert.rejects(exchangeCodeForTokens({ ...options, memberPrivateKey: CLIENT_WIF }), (error) => {
      assert.equal(error.error, 'invalid_grant');
      return true;
    });
  } finally {
    await browser.close();
    await app.stop();
    await sigil.stop();
  }
});
