#!/usr/bin/env node
// The seed's and bitcoin-auth's ways of calling a protected resource, against
// sigil's example resource server (docs/protocol.md §6, 7, 15).
//
//   SERVICE_ACCOUNT_WIF=L… node resource_client.mjs x-auth BASE PATH SCHEME [BODY]
//     bitcoin-auth's getAuthToken({privateKeyWif, requestPath: PATH, scheme,
//     body}) sent as the X-Auth-Token header of a GET (no BODY) or POST
//     (with BODY, Content-Type: application/json) to BASE + PATH.
//
//   SERVICE_ACCOUNT_WIF=L… node resource_client.mjs signed-request BASE PATH METHOD TOKEN [BODY]
//     The seed's signRequest(method, url, body, privateKey) exactly as its
//     document writes it (@bsv/sdk SignedMessage.sign, whose number[] becomes
//     the X-Signature header value through fetch, i.e. comma-separated
//     decimal bytes) with `Authorization: Bearer TOKEN`.
//
// Prints ONE JSON object: {"status": <http status>, "body": <parsed JSON or
// text>, "sent": {header: value}} (sent = the authentication headers).

import crypto from 'node:crypto'
import { PrivateKey, SignedMessage } from '@bsv/sdk'
import { getAuthToken } from 'bitcoin-auth'

function usage (msg) {
  process.stderr.write(`${msg}\nusage: node resource_client.mjs x-auth BASE PATH SCHEME [BODY] | signed-request BASE PATH METHOD TOKEN [BODY]\n`)
  process.exit(2)
}

const wif = process.env.SERVICE_ACCOUNT_WIF
if (!wif) usage('SERVICE_ACCOUNT_WIF is not set')

// The seed's function, verbatim (seed-sigma-auth-backend-tokens.txt).
function signRequest (method, url, body, privateKey) {
  const timestamp = Date.now()
  const bodyHash = crypto.createHash('sha256').update(body || '').digest('hex')
  const message = `${method}:${url}:${bodyHash}:${timestamp}`

  return {
    signature: SignedMessage.sign(message, privateKey),
    timestamp,
    bodyHash
  }
}

async function send (url, init, sent) {
  const response = await fetch(url, init)
  const text = await response.text()
  let body
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: response.status, body, sent }
}

const [mode, ...args] = process.argv.slice(2)
let result
if (mode === 'x-auth') {
  const [base, path, scheme, body] = args
  if (!scheme) usage('x-auth needs BASE PATH SCHEME [BODY]')
  const config = { privateKeyWif: wif, requestPath: path, scheme }
  if (body !== undefined) config.body = body
  const token = getAuthToken(config)
  const headers = { 'X-Auth-Token': token }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  result = await send(base + path, { method: body === undefined ? 'GET' : 'POST', headers, body }, { 'X-Auth-Token': token })
} else if (mode === 'signed-request') {
  const [base, path, method, token, body] = args
  if (!token) usage('signed-request needs BASE PATH METHOD TOKEN [BODY]')
  const privateKey = PrivateKey.fromWif(wif)
  const requestSig = signRequest(method, path, body, privateKey)
  const headers = {
    Authorization: `Bearer ${token}`,
    'X-Signature': requestSig.signature,
    'X-Timestamp': requestSig.timestamp,
    'X-Body-Hash': requestSig.bodyHash
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  result = await send(base + path, { method, headers, body }, {
    'X-Signature': String(requestSig.signature),
    'X-Timestamp': String(requestSig.timestamp),
    'X-Body-Hash': requestSig.bodyHash
  })
} else {
  usage('unknown mode')
}
process.stdout.write(JSON.stringify(result))
