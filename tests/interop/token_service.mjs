#!/usr/bin/env node
// The seed's backend-token client (shared/reference/seed-sigma-auth-backend-
// tokens.txt, "Complete Backend Service Example") run against a sigil
// server, and the two ways the seed's readers validate what it gets: jose
// with the server's JWKS, and jsonwebtoken with the JWKS key's x5c[0] wrapped
// as a PEM certificate (the seed's TokenValidator).
//
//   SERVICE_ACCOUNT_WIF=<wif> node token_service.mjs BASE_URL [ENDPOINT]
//       Mode "service": get a token with BackendAuthService, validate it
//       (jose, jsonwebtoken), call BASE_URL/userinfo with
//       authenticatedGet, run the negative controls. Prints one JSON object:
//       {base, endpoint, pubkey, token, header, claims, signature_request,
//        jose, jsonwebtoken, userinfo, seed_shared_cache_userinfo,
//        negative: {jose_wrong_audience, jsonwebtoken_wrong_issuer,
//                   flipped_signature: {jose, jsonwebtoken}}}
//       where every validation is {ok, error?, ...}.
//
//   node token_service.mjs BASE_URL verify TOKEN AUDIENCE
//       Mode "verify": only the jose and jsonwebtoken validations of TOKEN
//       for AUDIENCE against BASE_URL's JWKS. Prints
//       {jose: {ok, kid, error?}, jsonwebtoken: {ok, error?}}.
//
// Exit status: 0 when the run completed (the JSON says what passed),
// 1 on an unexpected exception (message on stderr), 2 on bad usage.

import { PrivateKey, SignedMessage } from '@bsv/sdk'
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader, decodeJwt } from 'jose'
import jwt from 'jsonwebtoken'

function usage (msg) {
  process.stderr.write(`${msg}\nusage: SERVICE_ACCOUNT_WIF=<wif> node token_service.mjs BASE_URL [ENDPOINT]\n` +
    '       node token_service.mjs BASE_URL verify TOKEN AUDIENCE\n')
  process.exit(2)
}

// ------------------------------------------------------------------------
// The seed's client, verbatim except: `SignedMessage` comes from @bsv/sdk
// (bitcoin-auth 0.0.7 does not export it; the seed's import is a doc bug),
// and console.error goes to stderr as in the seed (stdout carries the JSON).
// ------------------------------------------------------------------------
class BackendAuthService {
  constructor (serviceWif, sigmaAuthUrl = 'https://auth.sigmaidentity.com') {
    this.privateKey = PrivateKey.fromWif(serviceWif)
    this.sigmaAuthUrl = sigmaAuthUrl
    this.cachedToken = null
    this.tokenExpiry = null
  }

  async generateSignature (endpoint) {
    const timestamp = Date.now()
    const message = `${endpoint}:${timestamp}`
    const signature = SignedMessage.sign(message, this.privateKey)

    return {
      message,
      signature,
      timestamp,
      pubkey: this.privateKey.toPublicKey().toString()
    }
  }

  async getToken (endpoint, forceRefresh = false) {
    // Return cached token if still valid
    if (!forceRefresh && this.cachedToken && this.tokenExpiry > Date.now() + 60000) {
      return this.cachedToken
    }

    try {
      const authData = await this.generateSignature(endpoint)

      const response = await fetch(`${this.sigmaAuthUrl}/api/auth/token-for-endpoint`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          endpoint,
          signature: authData.signature,
          message: authData.message,
          pubkey: authData.pubkey,
          timestamp: authData.timestamp
        })
      })

      if (!response.ok) {
        const error = await response.json()
        throw new Error(`Auth failed: ${error.error_description}`)
      }

      const { access_token, expires_in } = await response.json() // eslint-disable-line camelcase

      // Cache token with buffer time
      this.cachedToken = access_token // eslint-disable-line camelcase
      this.tokenExpiry = Date.now() + (expires_in * 1000) - 60000 // eslint-disable-line camelcase

      return access_token // eslint-disable-line camelcase
    } catch (error) {
      console.error('Token generation failed:', error)
      throw error
    }
  }

  async authenticatedRequest (url, options = {}) {
    const token = await this.getToken(url)

    return fetch(url, {
      ...options,
      headers: {
        Authorization: `Bearer ${token}`,
        ...options.headers
      }
    })
  }

  async authenticatedPost (url, data) {
    return this.authenticatedRequest(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(data)
    })
  }

  async authenticatedGet (url) {
    return this.authenticatedRequest(url, { method: 'GET' })
  }
}

// ------------------------------------------------------------------------
// Validation, the two ways the seed's readers do it.
// ------------------------------------------------------------------------
const errorText = (e) => (e && e.code ? `${e.code}: ${e.message}` : e && e.message ? e.message : String(e))

// jose: remote JWKS, strict issuer/audience/typ/alg.
async function viaJose (base, token, { audience, issuer = base } = {}) {
  try {
    const jwks = createRemoteJWKSet(new URL(base + '/.well-known/jwks.json'))
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer,
      audience,
      typ: 'at+jwt',
      algorithms: ['ES256']
    })
    return { ok: true, kid: protectedHeader.kid, sub: payload.sub, aud: payload.aud }
  } catch (e) {
    return { ok: false, error: errorText(e) }
  }
}

// jsonwebtoken, as the seed's TokenValidator: fetch the JWKS, find the key by
// kid, verify with x5c[0]. The seed passes the bare base64 DER string, which
// jsonwebtoken cannot use as a key; a reader makes it a PEM certificate.
function pemCertificate (x5c0) {
  const lines = x5c0.match(/.{1,64}/g).join('\n')
  return `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`
}

async function fetchJwks (base) {
  const response = await fetch(base + '/.well-known/jwks.json')
  if (!response.ok) throw new Error(`JWKS: HTTP ${response.status}`)
  const jwks = await response.json()
  return jwks.keys
}

async function viaJsonwebtoken (base, token, { audience, issuer = base, keys = null } = {}) {
  try {
    keys = keys ?? await fetchJwks(base)
    const decoded = jwt.decode(token, { complete: true })
    if (!decoded) throw new Error('Invalid token format')
    const key = keys.find(k => k.kid === decoded.header.kid)
    if (!key) throw new Error('Unknown token key')
    if (!Array.isArray(key.x5c) || typeof key.x5c[0] !== 'string') throw new Error('JWKS key has no x5c[0]')
    const verified = jwt.verify(token, pemCertificate(key.x5c[0]), {
      algorithms: ['ES256'],
      audience,
      issuer
    })
    return { ok: true, kid: decoded.header.kid, sub: verified.sub, aud: verified.aud }
  } catch (e) {
    return { ok: false, error: errorText(e) }
  }
}

// The token with one character of its signature part changed (not the last
// one, whose low bits may be padding that base64url decoders ignore).
function flipSignatureChar (token) {
  const [h, p, s] = token.split('.')
  const i = Math.floor(s.length / 2)
  const flipped = s[i] === 'A' ? 'B' : 'A'
  return `${h}.${p}.${s.slice(0, i)}${flipped}${s.slice(i + 1)}`
}

// ------------------------------------------------------------------------
async function serviceMode (base, endpoint) {
  const wif = process.env.SERVICE_ACCOUNT_WIF
  if (!wif) usage('SERVICE_ACCOUNT_WIF is not set')

  // What generateSignature sends (the signature a number[] that becomes a
  // JSON array of byte values), recorded for the Rust side.
  const probe = new BackendAuthService(wif, base)
  const sample = await probe.generateSignature(endpoint)
  const signatureRequest = {
    signature_is_array: Array.isArray(sample.signature),
    signature_json_prefix: JSON.stringify(sample.signature).slice(0, 16),
    timestamp_type: typeof sample.timestamp,
    message_is_compat_form: sample.message === `${endpoint}:${sample.timestamp}`
  }

  // (a) a token for the endpoint, through the seed's getToken and its cache.
  const authService = new BackendAuthService(wif, base)
  const token = await authService.getToken(endpoint)
  const cached = await authService.getToken(endpoint)
  const header = decodeProtectedHeader(token)
  const claims = decodeJwt(token)
  const pubkey = authService.privateKey.toPublicKey().toString()

  // (b) jose, (c) jsonwebtoken.
  const joseResult = await viaJose(base, token, { audience: endpoint })
  const keys = await fetchJwks(base)
  const jsonwebtokenResult = await viaJsonwebtoken(base, token, { audience: endpoint, keys })

  // (d) the seed's test: authenticatedGet(<server>/userinfo). A fresh
  // service, because the seed's cache is not keyed by endpoint: the service
  // above would send its https://api.example.com/data token, whose aud
  // /userinfo rightly refuses. That behaviour is recorded too.
  const userinfoService = new BackendAuthService(wif, base)
  const response = await userinfoService.authenticatedGet(base + '/userinfo')
  const data = await response.json()
  const userinfo = {
    ok: response.ok,
    status: response.status,
    data,
    pubkey_matches: data.pubkey === pubkey,
    token_aud: decodeJwt(userinfoService.cachedToken).aud
  }
  const sharedResponse = await authService.authenticatedGet(base + '/userinfo')
  const sharedCacheUserinfo = {
    ok: sharedResponse.ok,
    status: sharedResponse.status,
    www_authenticate: sharedResponse.headers.get('www-authenticate'),
    data: await sharedResponse.json()
  }

  // (e) negative controls: each must fail.
  const wrongAudience = await viaJose(base, token, { audience: 'https://api.example.com/other' })
  const wrongIssuer = await viaJsonwebtoken(base, token, {
    audience: endpoint,
    issuer: 'https://auth.sigmaidentity.com',
    keys
  })
  const forged = flipSignatureChar(token)
  const flipped = {
    token_differs: forged !== token,
    jose: await viaJose(base, forged, { audience: endpoint }),
    jsonwebtoken: await viaJsonwebtoken(base, forged, { audience: endpoint, keys })
  }

  return {
    mode: 'service',
    base,
    endpoint,
    pubkey,
    token,
    cached_token_reused: cached === token,
    header,
    claims,
    signature_request: signatureRequest,
    jwks_kids: keys.map(k => k.kid),
    jose: joseResult,
    jsonwebtoken: jsonwebtokenResult,
    userinfo,
    seed_shared_cache_userinfo: sharedCacheUserinfo,
    negative: {
      jose_wrong_audience: wrongAudience,
      jsonwebtoken_wrong_issuer: wrongIssuer,
      flipped_signature: flipped
    }
  }
}

async function verifyMode (base, token, audience) {
  return {
    mode: 'verify',
    jose: await viaJose(base, token, { audience }),
    jsonwebtoken: await viaJsonwebtoken(base, token, { audience })
  }
}

async function main () {
  const [base, second, token, audience] = process.argv.slice(2)
  if (!base || !/^https?:\/\//.test(base) || base.endsWith('/')) usage('BASE_URL must be http(s)://host:port without a trailing slash')
  let out
  if (second === 'verify') {
    if (!token || !audience) usage('verify needs TOKEN and AUDIENCE')
    out = await verifyMode(base, token, audience)
  } else {
    out = await serviceMode(base, second ?? 'https://api.example.com/data')
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

main().catch((e) => {
  process.stderr.write(`token_service.mjs: ${e && e.stack ? e.stack : String(e)}\n`)
  process.exit(1)
})
