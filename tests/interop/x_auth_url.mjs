#!/usr/bin/env node
// bitcoin-auth's getAuthToken with requestPath = the request's absolute URL
// (docs/protocol.md §7: the form that names one server), sent to that URL.
//
//   SERVICE_ACCOUNT_WIF=L… node x_auth_url.mjs SIGNED_URL SEND_URL SCHEME [BODY]
//     getAuthToken({privateKeyWif, requestPath: SIGNED_URL, scheme, body}) as
//     the X-Auth-Token header of a GET (no BODY) or POST (BODY, Content-Type:
//     application/json) to SEND_URL (normally the same URL; another one shows
//     how a server refuses a token that names someone else).
//
// Prints ONE JSON object: {"status": <http status>, "body": <parsed JSON or
// text>, "sent": {"X-Auth-Token": token}}.

import { getAuthToken } from 'bitcoin-auth'

function usage (msg) {
  process.stderr.write(`${msg}\nusage: node x_auth_url.mjs SIGNED_URL SEND_URL SCHEME [BODY]\n`)
  process.exit(2)
}

const wif = process.env.SERVICE_ACCOUNT_WIF
if (!wif) usage('SERVICE_ACCOUNT_WIF is not set')
const [signedUrl, sendUrl, scheme, body] = process.argv.slice(2)
if (!scheme) usage('SIGNED_URL SEND_URL SCHEME are required')

const config = { privateKeyWif: wif, requestPath: signedUrl, scheme }
if (body !== undefined) config.body = body
const token = getAuthToken(config)
const headers = { 'X-Auth-Token': token }
if (body !== undefined) headers['Content-Type'] = 'application/json'
const response = await fetch(sendUrl, { method: body === undefined ? 'GET' : 'POST', headers, body })
const text = await response.text()
let parsed
try {
  parsed = JSON.parse(text)
} catch {
  parsed = text
}
process.stdout.write(JSON.stringify({ status: response.status, body: parsed, sent: { 'X-Auth-Token': token } }))
