#!/usr/bin/env node
// Verifies signatures (typically made by sigil's Rust code) with the
// reference JavaScript libraries.
//
//   node verify.mjs < input.json > results.json
//
// Reads ONE JSON object {"cases":[...]} from stdin and writes ONE JSON object
// {"results":[{"name", "checks":{...}}, ...]} to stdout, one result per case,
// in input order. A check is true, false, or "error: <message>" when the
// library threw (or the input was malformed). A bad case never stops the run.
// Exit status: 0 when the input was read and processed, 2 when stdin was not
// a JSON object with a "cases" array. See README.md for the exact shapes.

import { BSM, SignedMessage, PublicKey, Signature, Utils } from '@bsv/sdk'
import { verifyAuthToken, parseAuthToken } from 'bitcoin-auth'
import bitcoinMessage from 'bitcoinjs-message'

// Strict hex: Buffer.from(s, 'hex') silently stops at the first bad digit.
function hexToBuffer (hex, field) {
  if (typeof hex !== 'string' || !/^(?:[0-9a-fA-F]{2})*$/.test(hex)) {
    throw new Error(`${field} is not an even-length hex string`)
  }
  return Buffer.from(hex, 'hex')
}

function requireString (c, field) {
  if (typeof c[field] !== 'string') throw new Error(`${field} missing or not a string`)
  return c[field]
}

// BRC-77 envelope bytes: signature_base64 (decoded the way bitcoin-auth does,
// with the SDK's base64) or, if absent, signature_bytes (array of 0..255).
function envelopeBytes (c) {
  if (typeof c.signature_base64 === 'string') return Utils.toArray(c.signature_base64, 'base64')
  if (Array.isArray(c.signature_bytes)) {
    if (!c.signature_bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
      throw new Error('signature_bytes must hold integers 0..255')
    }
    return c.signature_bytes.slice()
  }
  throw new Error('signature_base64 missing or not a string')
}

// Runs fn; true/false as returned (anything else is reported), a throw as
// "error: <message>".
function check (fn) {
  try {
    const v = fn()
    if (v === true || v === false) return v
    return `error: library returned ${JSON.stringify(v)}`
  } catch (e) {
    return `error: ${e && e.message ? e.message : String(e)}`
  }
}

// Compressed hex of the envelope's sender (bytes 4..37) vs the claimed key.
function senderIsPubkey (envelope, pubkeyHex) {
  if (envelope.length < 37) throw new Error(`envelope too short (${envelope.length} bytes)`)
  const sender = Utils.toHex(envelope.slice(4, 37))
  const claimed = PublicKey.fromString(pubkeyHex).toString() // normalises to compressed lowercase
  return sender === claimed
}

function verifyBsm (c) {
  return {
    '@bsv/sdk': check(() => {
      const msg = Array.from(hexToBuffer(c.message_hex, 'message_hex'))
      const sig = Signature.fromCompact(requireString(c, 'signature_base64'), 'base64')
      const pub = PublicKey.fromString(requireString(c, 'pubkey'))
      return BSM.verify(msg, sig, pub)
    }),
    'bitcoinjs-message': check(() => {
      const msg = hexToBuffer(c.message_hex, 'message_hex')
      return bitcoinMessage.verify(msg, requireString(c, 'address'), requireString(c, 'signature_base64'))
    })
  }
}

function verifyBrc77 (c) {
  return {
    '@bsv/sdk': check(() => {
      const msg = Array.from(hexToBuffer(c.message_hex, 'message_hex'))
      return SignedMessage.verify(msg, envelopeBytes(c))
    }),
    'brc77-sender-is-pubkey': check(() => senderIsPubkey(envelopeBytes(c), requireString(c, 'pubkey')))
  }
}

function verifyXAuthToken (c, result) {
  const checks = {}
  checks['bitcoin-auth'] = check(() => {
    const token = requireString(c, 'token')
    const target = { requestPath: requireString(c, 'request_path'), timestamp: requireString(c, 'now_iso') }
    if (c.body !== undefined && c.body !== null) target.body = requireString(c, 'body')
    const timePad = c.time_pad_minutes ?? 5
    const bodyEncoding = c.body_encoding ?? 'utf8'
    return verifyAuthToken(token, target, timePad, bodyEncoding)
  })
  let parsed = null
  checks['bitcoin-auth-parse'] = check(() => {
    parsed = parseAuthToken(requireString(c, 'token'))
    return parsed !== null
  })
  result.parsed = parsed
  if (parsed !== null && parsed.scheme === 'brc77') {
    checks['brc77-sender-is-pubkey'] = check(() =>
      senderIsPubkey(Utils.toArray(parsed.signature, 'base64'), parsed.pubkey))
  }
  return checks
}

function verifyCase (c) {
  const result = { name: c && typeof c === 'object' ? c.name ?? null : null, checks: {} }
  try {
    if (!c || typeof c !== 'object' || Array.isArray(c)) throw new Error('case is not an object')
    switch (c.scheme) {
      case 'bsm':
        result.checks = verifyBsm(c)
        break
      case 'brc77':
        result.checks = verifyBrc77(c)
        break
      case 'x-auth-token':
        result.checks = verifyXAuthToken(c, result)
        break
      default:
        throw new Error(`unknown scheme ${JSON.stringify(c.scheme)}`)
    }
  } catch (e) {
    result.checks = { 'verify.mjs': `error: ${e && e.message ? e.message : String(e)}` }
  }
  return result
}

async function readStdin () {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}

async function main () {
  let input
  try {
    input = JSON.parse(await readStdin())
  } catch (e) {
    process.stderr.write(`verify.mjs: stdin is not JSON: ${e.message}\n`)
    process.exit(2)
  }
  if (!input || typeof input !== 'object' || !Array.isArray(input.cases)) {
    process.stderr.write('verify.mjs: expected {"cases":[...]} on stdin\n')
    process.exit(2)
  }
  const results = input.cases.map(verifyCase)
  process.stdout.write(JSON.stringify({ results }) + '\n')
}

main()
