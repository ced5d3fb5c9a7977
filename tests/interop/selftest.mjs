#!/usr/bin/env node
// Self-test of the JavaScript half alone (no Rust): sign.mjs output, turned
// into verify.mjs input, must verify in every library; with the signature or
// the message corrupted it must not.
//
//   node selftest.mjs [COUNT] [SEED]      (npm test runs it with defaults)

import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))
const count = process.argv[2] ?? '12'
const seed = process.argv[3] ?? 'selftest'

function run (script, args, input) {
  const r = spawnSync(process.execPath, [join(here, script), ...args], {
    input, maxBuffer: 1 << 30, encoding: 'utf8'
  })
  if (r.status !== 0) throw new Error(`${script} exited ${r.status}: ${r.stderr}`)
  return JSON.parse(r.stdout)
}

// sign.mjs case → verify.mjs case. mutate: null, "signature" or "message".
function toVerifyCase (c, mutate) {
  if (c.lib === 'bitcoin-auth') {
    let token = c.token
    let body = c.body
    if (mutate === 'signature') {
      const parts = token.split('|')
      const sig = Buffer.from(parts[4], 'base64')
      sig[sig.length - 5] ^= 1
      parts[4] = sig.toString('base64')
      token = parts.join('|')
    } else if (mutate === 'message') {
      body = { utf8: 'x', hex: '00', base64: 'AAAA' }[c.body_encoding] + (body ?? '')
    }
    return {
      name: c.name, scheme: 'x-auth-token', token, request_path: c.request_path,
      body, body_encoding: c.body_encoding, now_iso: c.timestamp
    }
  }
  const v = {
    name: c.name, scheme: c.scheme, pubkey: c.pubkey, message_hex: c.message_hex,
    signature_base64: c.signature_base64
  }
  if (c.scheme === 'bsm') v.address = c.address
  if (mutate === 'signature') {
    const sig = Buffer.from(c.signature_base64, 'base64')
    sig[sig.length - 5] ^= 1
    v.signature_base64 = sig.toString('base64')
  } else if (mutate === 'message') {
    v.message_hex = c.message_hex + '00'
  }
  return v
}

// Checks that do not depend on the signature or message bytes.
const STRUCTURAL = new Set(['bitcoin-auth-parse', 'brc77-sender-is-pubkey'])

let passed = 0
let failed = 0
const { cases } = run('sign.mjs', [count, seed])
for (const mutate of [null, 'signature', 'message']) {
  const { results } = run('verify.mjs', [], JSON.stringify({ cases: cases.map((c) => toVerifyCase(c, mutate)) }))
  if (results.length !== cases.length) throw new Error('verify.mjs returned the wrong number of results')
  for (const r of results) {
    for (const [lib, got] of Object.entries(r.checks)) {
      const want = mutate === null || STRUCTURAL.has(lib)
      if (got === want) {
        passed++
      } else {
        failed++
        console.log(`FAIL ${r.name} (${mutate ?? 'as signed'}) ${lib}: got ${JSON.stringify(got)}, want ${want}`)
      }
    }
  }
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
