#!/usr/bin/env node
// Signup signed payloads (docs/protocol.md §11) with the JavaScript libraries a
// Signup backend or wallet runs: bitcoinjs-message and bitcore-lib-cash.
//
//   node payloads.mjs sign COUNT SEED NOW_MS HOST
//     Writes {"cases":[...]}: for each i in 0..COUNT one payload signed with
//     bitcoinjs-message and one signed with bitcore-lib-cash's ECDSA (the
//     primitives bitcore-message uses: magic hash, sign, calci, toCompact).
//     Each case: {library, payload, cashaddr, legacy, signature, bytes},
//     payload = JSON.stringify({signedBy, requestedBy: HOST, data, timestamp})
//     with timestamp = NOW_MS - 2i - (0 or 1, by library), data from a seeded PRNG: plain ASCII,
//     non-ASCII text (accents, euro sign, CJK, emoji, U+2028), long strings
//     (payloads over 253 bytes, so the CompactSize length is 0xFD + u16),
//     integer-like keys and JS numbers. cashaddr comes from bitcore-lib-cash
//     (`bitcoincash:q…`), legacy from @bsv/sdk.
//
//   node payloads.mjs verify < {"cases":[{payload, address, signature}]}
//     Writes {"results":[{bitcoinjs, bitcore}]}: whether bitcoinjs-message
//     (legacy address; a cashaddr is converted with bitcore-lib-cash, as
//     Signup's verifier converted it with bchaddrjs) and bitcore-lib-cash
//     (recover the key from the compact signature, compare the addresses)
//     accept each signature.

import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { PrivateKey as BsvPrivateKey } from '@bsv/sdk'
import bitcoinMessage from 'bitcoinjs-message'
import bitcore from 'bitcore-lib-cash'

const { ECDSA, Hash, Signature, BN } = bitcore.crypto
const { BufferWriter } = bitcore.encoding
const MAGIC = Buffer.from('Bitcoin Signed Message:\n', 'utf8')
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

function usage (msg) {
  process.stderr.write(`${msg}\nusage: node payloads.mjs sign COUNT SEED NOW_MS HOST | verify < cases.json\n`)
  process.exit(2)
}

// Byte stream: SHA-256("sigil-payloads\0" || SEED || "\0" || counter).
class Rng {
  constructor (seed) {
    this.seed = String(seed)
    this.counter = 0
    this.buf = Buffer.alloc(0)
  }

  bytes (n) {
    while (this.buf.length < n) {
      const block = createHash('sha256')
        .update(`sigil-payloads\0${this.seed}\0${this.counter++}`)
        .digest()
      this.buf = Buffer.concat([this.buf, block])
    }
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return Buffer.from(out)
  }

  int (n) {
    return this.bytes(4).readUInt32BE(0) % n
  }

  key () {
    for (;;) {
      const k = this.bytes(32)
      const v = BigInt('0x' + k.toString('hex'))
      if (v > 0n && v < N) return k
    }
  }
}

const WORDS = ['alpha', 'beta', 'grant', 'login', 'order', 'pay', 'vote', 'read']
const UNICODE = ['é', 'ü', '€', '中文', '日本語', '😀', '🔑', '\u2028', 'ß', 'ñ', '"quoted"', 'back\\slash', 'tab\t', 'line\nbreak']

function data (rng, i) {
  switch (i % 4) {
    case 0:
      return { action: WORDS[rng.int(WORDS.length)], n: rng.int(1000) }
    case 1: {
      let s = ''
      for (let k = 0; k < 3 + rng.int(6); k++) s += UNICODE[rng.int(UNICODE.length)] + ' '
      return { message: s, by: 'ünïcødé' }
    }
    case 2: {
      const len = 260 + rng.int(500)
      return { message: 'x'.repeat(len), note: 'long payload, CompactSize 0xFD' }
    }
    default:
      return { b: rng.int(1000), 2: 'two', a: [0.1, 1e21, -0, 2.5e-7], 10: null, nested: { z: true, 1: 'one' } }
  }
}

function magicHash (text) {
  const message = Buffer.from(text, 'utf8')
  const buf = Buffer.concat([
    BufferWriter.varintBufNum(MAGIC.length),
    MAGIC,
    BufferWriter.varintBufNum(message.length),
    message
  ])
  return Hash.sha256sha256(buf)
}

function bitcoreSign (text, keyBytes) {
  const priv = new bitcore.PrivateKey(BN.fromBuffer(keyBytes), 'livenet')
  const hash = magicHash(text)
  const sig = ECDSA.sign(hash, priv, { randomK: true })
  ECDSA.calci(hash, sig, priv.publicKey)
  return sig.toCompact()
}

function sign (count, seed, nowMs, host) {
  const rng = new Rng(seed)
  const cases = []
  for (let i = 0; i < count; i++) {
    for (const [l, library] of ['bitcoinjs-message', 'bitcore-lib-cash'].entries()) {
      const key = rng.key()
      const payload = JSON.stringify({
        signedBy: 'Signup.cash',
        requestedBy: host,
        data: data(rng, i),
        timestamp: nowMs - 2 * i - l
      })
      const signature = library === 'bitcoinjs-message'
        ? bitcoinMessage.sign(payload, key, true)
        : bitcoreSign(payload, key)
      const cashaddr = new bitcore.PrivateKey(BN.fromBuffer(key), 'livenet').toAddress().toCashAddress()
      const legacy = BsvPrivateKey.fromString(key.toString('hex'), 16).toAddress()
      cases.push({
        library,
        payload,
        cashaddr,
        legacy,
        signature: signature.toString('base64'),
        bytes: Buffer.byteLength(payload, 'utf8')
      })
    }
  }
  return { cases }
}

// The 20-byte key hash an address names: CashAddr through bitcore-lib-cash,
// legacy base58check (version 0x00) decoded directly (bitcore-lib-cash 11
// refuses legacy strings with "Address has mismatched network type").
function keyHash (address) {
  if (/^[13]/.test(address)) {
    const decoded = bitcore.encoding.Base58Check.decode(address)
    if (decoded[0] !== 0x00) throw new Error('not a mainnet P2PKH address')
    return decoded.subarray(1)
  }
  const text = address.includes(':') ? address : `bitcoincash:${address}`
  return bitcore.Address.fromString(text).hashBuffer
}

// The legacy form bitcoinjs-message needs (Signup's verifier converted with
// bchaddrjs the same way).
function toLegacy (address) {
  return bitcore.encoding.Base58Check.encode(Buffer.concat([Buffer.from([0x00]), keyHash(address)]))
}

function verify (input) {
  return {
    results: input.cases.map(({ payload, address, signature }) => {
      const sig = Buffer.from(signature, 'base64')
      let bitcoinjs = false
      try {
        bitcoinjs = bitcoinMessage.verify(payload, toLegacy(address), sig)
      } catch (e) {
        bitcoinjs = false
      }
      let bitcoreOk = false
      try {
        const recovered = ECDSA.recoverPublicKey(magicHash(payload), Signature.fromCompact(sig))
        bitcoreOk = recovered.toAddress('livenet').hashBuffer.equals(keyHash(address))
      } catch (e) {
        bitcoreOk = false
      }
      return { bitcoinjs, bitcore: bitcoreOk }
    })
  }
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'sign') {
  const [count, seed, nowMs, host] = args
  if (!host || !/^\d+$/.test(count) || !/^\d+$/.test(nowMs)) usage('sign needs COUNT SEED NOW_MS HOST')
  process.stdout.write(JSON.stringify(sign(Number(count), seed, Number(nowMs), host)))
} else if (mode === 'verify') {
  process.stdout.write(JSON.stringify(verify(JSON.parse(readFileSync(0, 'utf8')))))
} else {
  usage('unknown mode')
}
