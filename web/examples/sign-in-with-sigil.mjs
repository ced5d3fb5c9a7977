// "Sign in with sigil" in a Node app: a complete OpenID Connect relying
// party with openid-client (README.md, "Sign in with sigil"). It runs the
// code flow with PKCE, state and nonce, checks `iss` (RFC 9207), reads
// /userinfo, refreshes, and revokes on sign-out. web/test/login.test.mjs
// drives it with a real browser.
//
//   sigil serve --issuer http://localhost:1911 &
//   SIGIL_ISSUER=http://localhost:1911 node web/examples/sign-in-with-sigil.mjs
//   open http://127.0.0.1:3000/
//
// With SIGIL_CLIENT_ID (and SIGIL_CLIENT_SECRET for a client_secret_basic
// client from `sigil clients add`) it uses that client; without, it
// registers itself once through the issuer's registration endpoint
// (RFC 7591). Plain http is allowed only for a loopback issuer.

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import * as oidc from 'openid-client';

const SCOPE = 'openid profile offline_access';

function loopback(url) {
  return ['localhost', '127.0.0.1', '[::1]'].includes(new URL(url).hostname);
}

/** openid-client's Configuration for `issuer`, by discovery (or registration). */
export async function configure({ issuer, clientId, clientSecret, redirectUri, clientName = 'Node example' }) {
  const options = loopback(issuer) ? { execute: [oidc.allowInsecureRequests] } : undefined;
  if (!clientId) {
    return oidc.dynamicClientRegistration(
      new URL(issuer),
      {
        client_name: clientName,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'none',
      },
      oidc.None(),
      options,
    );
  }
  const auth = clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None();
  return oidc.discovery(new URL(issuer), clientId, undefined, auth, options);
}

function cookies(request) {
  return Object.fromEntries(
    (request.headers.cookie ?? '').split(';').map((pair) => pair.trim().split('=')).filter((p) => p.length === 2),
  );
}

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function html(response, status, body) {
  response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  response.end(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Example app</title><body>${body}</body></html>`);
}

/**
 * Starts the app on 127.0.0.1:`port` (0: any free port). Resolves to
 * `{url, config, sessions, stop()}`; `sessions` maps the app's session ids
 * to `{tokens, claims, userinfo}`.
 */
export async function startRelyingParty({ issuer, clientId, clientSecret, port = 3000, clientName }) {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  const redirectUri = `${url}/callback`;
  const config = await configure({ issuer, clientId, clientSecret, redirectUri, clientName });
  const flows = new Map();
  const sessions = new Map();

  async function route(request, response) {
    const here = new URL(request.url, url);
    const jar = cookies(request);
    if (here.pathname === '/') {
      return html(response, 200, '<h1>Example app</h1><p><a href="/login">Sign in with sigil</a></p>');
    }
    if (here.pathname === '/login') {
      const flow = randomBytes(16).toString('hex');
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      flows.set(flow, { verifier, state, nonce });
      const target = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: SCOPE,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      });
      response.writeHead(302, {
        location: target.href,
        'set-cookie': `rp_flow=${flow}; Path=/; HttpOnly; SameSite=Lax; Max-Age=600`,
      });
      return response.end();
    }
    if (here.pathname === '/callback') {
      const flow = flows.get(jar.rp_flow);
      if (!flow) return html(response, 400, '<p>This sign-in was not started here.</p>');
      flows.delete(jar.rp_flow);
      // Checks the state, the iss parameter, PKCE, and the id_token
      // (signature by the issuer's JWKS, aud, nonce, times).
      const tokens = await oidc.authorizationCodeGrant(config, here, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      const id = randomBytes(16).toString('hex');
      sessions.set(id, { tokens, claims, userinfo });
      response.writeHead(303, {
        location: '/me',
        'set-cookie': `rp_session=${id}; Path=/; HttpOnly; SameSite=Lax`,
      });
      return response.end();
    }
    const session = sessions.get(jar.rp_session);
    if (here.pathname === '/me') {
      if (!session) return html(response, 401, '<p>Not signed in. <a href="/login">Sign in with sigil</a></p>');
      return html(
        response,
        200,
        `<h1>Signed in</h1><p>Your key: <code id="sub">${escape(session.claims.sub)}</code></p>` +
          `<p>Address: <code id="address">${escape(session.userinfo.address)}</code></p>` +
          '<form method="post" action="/logout"><button type="submit">Sign out</button></form>',
      );
    }
    if (here.pathname === '/logout' && request.method === 'POST') {
      if (session?.tokens.refresh_token) {
        await oidc.tokenRevocation(config, session.tokens.refresh_token, { token_type_hint: 'refresh_token' });
      }
      sessions.delete(jar.rp_session);
      response.writeHead(303, { location: '/', 'set-cookie': 'rp_session=; Path=/; Max-Age=0' });
      return response.end();
    }
    return html(response, 404, '<p>Not found.</p>');
  }

  server.on('request', (request, response) => {
    route(request, response).catch((error) => {
      // openid-client's refusals say what was wrong in their cause.
      const reason = [error.message, error.cause?.message].filter(Boolean).join(': ');
      html(response, 502, `<p id="error">${escape(reason)}</p>`);
    });
  });
  return {
    url,
    config,
    sessions,
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const issuer = process.env.SIGIL_ISSUER || 'http://localhost:1911';
  const app = await startRelyingParty({
    issuer,
    clientId: process.env.SIGIL_CLIENT_ID,
    clientSecret: process.env.SIGIL_CLIENT_SECRET,
    port: Number(process.env.PORT || 3000),
  });
  console.log(`client ${app.config.clientMetadata().client_id}: open ${app.url}/`);
}
