#!/usr/bin/env node
// Makes signatures with the reference JavaScript libraries, for sigil's Rust
// side to verify.
//
//   node sign.mjs COUNT SEED [FIXED_ISO_TIME]
//
// Writes ONE JSON object {"cases":[...]} to stdout. For each i in 0..COUNT it
// makes one case per library (bitcoinjs-message also an uncompressed one
// every 5th i). Keys, messages, paths and bodies come from a seeded PRNG
// (SHA-256 in counter mode), so the same COUNT and SEED give the same cases,
// except:
//   - BRC-77 envelopes (bsv-sdk-signedmessage and bitcoin-auth brc77): the
//     SDK draws a random 32-byte keyID on every call;
//   - bitcoin-auth timestamps: the library's own new Date().toISOString(),
//     unless FIXED_ISO_TIME is given, in which case case i is signed at
//     FIXED_ISO_TIME + i seconds (passed as the library's `timestamp` option),
//     which makes the bitcoin-auth BSM tokens byte-for-byte reproducible.
// See README.md for the exact field names.

import { createHash } from 'node:crypto'
import { BSM, SignedMessage, PrivateKey, Hash, Utils } from '@bsv/sdk'
import { getAuthToken, parseAuthToken } from 'bitcoin-auth'
import bitcoinMessage from 'bitcoinjs-message'

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

function usage (msg) {
  process.stderr.write(`${msg}\nusage: node sign.mjs COUNT SEED [FIXED_ISO_TIME]\n`)
  process.exit(2)
}

// ---------------------------------------------------------------- PRNG ----
// Byte stream: SHA-256("sigil-interop\0" || SEED || "\0" || counter as
// decimal), 32 bytes per block, consumed in order.
class Rng {
  constructor (seed) {
    this.seed = String(seed)
    this.counter = 0
    this.buf = Buffer.alloc(0)
  }

  bytes (n) {
    while (this.buf.length < n) {
      const block = createHash('sha256')
        .update(`sigil-interop\0${this.seed}\0${this.counter++}`)
        .digest()
      this.buf = Buffer.concat([this.buf, block])
    }
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return Buffer.from(out)
  }

  u32 () { return this.bytes(4).readUInt32BE(0) }

  // uniform integer in [0, n), rejection sampling
  below (n) {
    if (!(n >= 1 && n <= 0x100000000)) throw new Error(`bad range ${n}`)
    const limit = Math.floor(0x100000000 / n) * n
    for (;;) {
      const x = this.u32()
      if (x < limit) return x % n
    }
  }

  between (lo, hi) { return lo + this.below(hi - lo + 1) } // inclusive
  pick (arr) { return arr[this.below(arr.length)] }
  chance (p) { return this.u32() / 0x100000000 < p }

  privateKeyHex () {
    for (;;) {
      const hex = this.bytes(32).toString('hex')
      const k = BigInt('0x' + hex)
      if (k > 0n && k < N) return hex
    }
  }
}

// ------------------------------------------------------------ messages ----
const utf8Len = (s) => Buffer.byteLength(s, 'utf8')

// Characters used for "non-ASCII" messages: multi-byte UTF-8 (2, 3 and 4
// bytes), U+2028/U+2029 (JSON/JS line separators), BOM, combining mark, and
// NUL / control characters (1 byte, but awkward in JSON and C strings).
const SPECIAL_CHARS = [
  'é', 'ü', 'ñ', 'ß', 'Ω', '\u00a0', '\u0301', // 2 bytes
  '中', '文', '字', '€', '\u2028', '\u2029', '\ufeff', '\uffff', // 3 bytes
  '😀', '🔑', '𝄞', // 4 bytes (surrogate pairs in JS)
  '\u0000', '\u0001', '\u0007', '\t', '\n', '\r', '\u001b', '\u007f' // 1 byte
]
const MULTIBYTE = SPECIAL_CHARS.filter((c) => utf8Len(c) > 1)
const ASCII = Array.from({ length: 0x7f - 0x20 }, (_, k) => String.fromCharCode(0x20 + k))

// A JS string whose UTF-8 encoding is exactly `target` bytes long. With
// `special`, about 30% of the characters come from SPECIAL_CHARS and at least
// one is multi-byte whenever target >= 2.
function makeText (rng, target, special) {
  let chars = []
  let len = 0
  while (len < target) {
    const remaining = target - len
    let c
    if (special && rng.chance(0.3)) {
      const fitting = SPECIAL_CHARS.filter((x) => utf8Len(x) <= remaining)
      c = rng.pick(fitting)
    } else {
      c = rng.pick(ASCII)
    }
    chars.push(c)
    len += utf8Len(c)
  }
  if (special && target >= 2 && !chars.some((c) => utf8Len(c) > 1)) {
    // Replace leading ASCII characters by one multi-byte character.
    const mb = rng.pick(MULTIBYTE.filter((x) => utf8Len(x) <= target))
    let freed = 0
    let k = 0
    while (freed < utf8Len(mb)) freed += utf8Len(chars[k++])
    chars = [mb, ...Array(freed - utf8Len(mb)).fill('x'), ...chars.slice(k)]
  }
  const s = chars.join('')
  if (utf8Len(s) !== target) throw new Error(`internal: wanted ${target} bytes, got ${utf8Len(s)}`)
  return s
}

// Exact byte lengths tried first, for every library: CompactSize edges.
const FIRST_LENGTHS = [0, 1, 252, 253, 254, 255, 256]

// Message for case i: about a third >= 253 bytes (the 3-byte CompactSize
// form), about a third with non-ASCII / control characters, the rest short.
function makeMessage (rng, i) {
  let len
  let special
  if (i < FIRST_LENGTHS.length) {
    len = FIRST_LENGTHS[i]
    special = i % 2 === 1
  } else if (i % 3 === 2) {
    len = rng.below(4) === 0 ? rng.pick([253, 254, 255, 256, 511, 512]) : rng.between(300, 2000)
    special = rng.chance(0.5)
  } else {
    const r = rng.below(10)
    len = r === 0 ? 0 : r === 1 ? 1 : r === 2 ? rng.pick([250, 251, 252]) : r === 3 ? rng.between(101, 252) : rng.between(1, 100)
    special = i % 3 === 1
  }
  return makeText(rng, len, special)
}

// ------------------------------------------------------- bitcoin-auth -----
const SEGMENTS = ['api', 'v1', 'v2', 'auth', 'token', 'users', 'me', 'items', 'static', 'bsm', 'brc77',
  'faucet', 'status', 'search', 'upload', 'a.b', 'x_y', '~tilde', 'caf%C3%A9', '%E4%B8%AD', 'with:colon', '@at']
const QUERY_KEYS = ['q', 'page', 'limit', 'sort', 'a', 'b', 'redirect', 'empty', 'x']
const QUERY_VALUES = ['1', '42', 'hello', 'hello%20world', 'a+b', '%7C', 'https%3A%2F%2Fexample.org%2Fcb', '', '=', 'x,y', 'caf%C3%A9', '-1', 'true']

function makePath (rng) {
  const n = rng.below(5) // 0 → "/"
  const segs = []
  for (let k = 0; k < n; k++) {
    segs.push(rng.chance(0.25) ? rng.bytes(rng.between(1, 8)).toString('hex') : rng.pick(SEGMENTS))
  }
  let path = '/' + segs.join('/')
  if (n > 0 && rng.chance(0.15)) path += '/'
  const q = rng.below(4)
  if (q === 1) {
    path += '?'
  }
  if (q >= 2) {
    const pairs = []
    const m = rng.between(1, 4)
    for (let k = 0; k < m; k++) {
      const key = rng.pick(QUERY_KEYS)
      pairs.push(rng.chance(0.1) ? key : `${key}=${rng.pick(QUERY_VALUES)}`)
    }
    path += '?' + pairs.join('&')
  }
  return path
}

// Body of case i. Kinds cycle: none, utf8, hex, base64, and every fifth an
// empty utf8 string (which bitcoin-auth treats like no body) or a long
// (>= 253 byte) utf8 body.
function makeBody (rng, i) {
  const kind = Math.floor(i / 2) % 5
  switch (kind) {
    case 0:
      return { body: null, bodyEncoding: 'utf8' }
    case 1: {
      const text = makeText(rng, rng.between(0, 120), rng.chance(0.5))
      return { body: JSON.stringify({ message: text, n: rng.below(1000000) }), bodyEncoding: 'utf8' }
    }
    case 2: {
      const hex = rng.bytes(rng.between(1, 300)).toString('hex')
      // every third hex body in upper case: still valid hex for the library
      return { body: Math.floor(i / 10) % 3 === 2 ? hex.toUpperCase() : hex, bodyEncoding: 'hex' }
    }
    case 3:
      return { body: rng.bytes(rng.between(1, 300)).toString('base64'), bodyEncoding: 'base64' }
    default:
      if (Math.floor(i / 10) % 2 === 0) return { body: '', bodyEncoding: 'utf8' }
      return { body: makeText(rng, rng.between(253, 1500), rng.chance(0.5)), bodyEncoding: 'utf8' }
  }
}

// ---------------------------------------------------------------- main ----
function main () {
  const [countArg, seedArg, fixedTimeArg] = process.argv.slice(2)
  if (countArg === undefined || seedArg === undefined) usage('missing arguments')
  if (!/^\d+$/.test(countArg)) usage(`COUNT must be a non-negative integer, got ${countArg}`)
  const count = Number(countArg)
  let fixedTime = null
  if (fixedTimeArg !== undefined) {
    fixedTime = Date.parse(fixedTimeArg)
    if (Number.isNaN(fixedTime)) usage(`FIXED_ISO_TIME does not parse: ${fixedTimeArg}`)
  }
  const rng = new Rng(seedArg)
  const cases = []

  const keyInfo = (hex) => {
    const priv = PrivateKey.fromHex(hex)
    const pub = priv.toPublicKey()
    return {
      priv,
      pubkey: pub.toString(), // 66 hex, compressed
      pubkeyUncompressed: Utils.toHex(pub.encode(false)),
      address: pub.toAddress(), // mainnet P2PKH of the compressed key
      addressUncompressed: Utils.toBase58Check(Hash.hash160(pub.encode(false)), [0x00]),
      wif: priv.toWif() // compressed, mainnet
    }
  }

  for (let i = 0; i < count; i++) {
    // --- @bsv/sdk BSM.sign: message as number[] (a string would be wrong:
    //     magicHash uses .length and writes the value as is)
    {
      const hex = rng.privateKeyHex()
      const k = keyInfo(hex)
      const msg = Buffer.from(makeMessage(rng, i), 'utf8')
      const sig = BSM.sign(Array.from(msg), k.priv)
      cases.push({
        name: `bsv-sdk-bsm-${i}`,
        lib: 'bsv-sdk-bsm',
        scheme: 'bsm',
        private_key_hex: hex,
        pubkey: k.pubkey,
        address: k.address,
        compressed: true,
        message_hex: msg.toString('hex'),
        signature_base64: sig
      })
    }

    // --- @bsv/sdk SignedMessage.sign (BRC-77, anyone). Odd i pass the JS
    //     string (the SDK UTF-8 encodes it), even i the byte array.
    {
      const hex = rng.privateKeyHex()
      const k = keyInfo(hex)
      const text = makeMessage(rng, i)
      const msg = Buffer.from(text, 'utf8')
      const env = SignedMessage.sign(i % 2 === 1 ? text : Array.from(msg), k.priv)
      cases.push({
        name: `bsv-sdk-signedmessage-${i}`,
        lib: 'bsv-sdk-signedmessage',
        scheme: 'brc77',
        private_key_hex: hex,
        pubkey: k.pubkey,
        message_hex: msg.toString('hex'),
        signature_bytes: env,
        signature_base64: Buffer.from(env).toString('base64')
      })
    }

    // --- bitcoinjs-message sign(message, privateKeyBuffer, compressed).
    //     Odd i pass the JS string, even i a Buffer.
    {
      const hex = rng.privateKeyHex()
      const k = keyInfo(hex)
      const text = makeMessage(rng, i)
      const msg = Buffer.from(text, 'utf8')
      const arg = i % 2 === 1 ? text : msg
      const keyBuf = Buffer.from(hex, 'hex')
      const base = {
        lib: 'bitcoinjs-message',
        scheme: 'bsm',
        private_key_hex: hex,
        pubkey: k.pubkey,
        message_hex: msg.toString('hex')
      }
      cases.push({
        name: `bitcoinjs-message-${i}`,
        ...base,
        address: k.address,
        compressed: true,
        signature_base64: bitcoinMessage.sign(arg, keyBuf, true).toString('base64')
      })
      if (i % 5 === 4) {
        cases.push({
          name: `bitcoinjs-message-${i}-uncompressed`,
          ...base,
          pubkey_uncompressed: k.pubkeyUncompressed,
          address: k.addressUncompressed,
          compressed: false,
          signature_base64: bitcoinMessage.sign(arg, keyBuf, false).toString('base64')
        })
      }
    }

    // --- bitcoin-auth getAuthToken, bsm and brc77 alternating
    {
      const hex = rng.privateKeyHex()
      const k = keyInfo(hex)
      const scheme = i % 2 === 0 ? 'bsm' : 'brc77'
      const requestPath = makePath(rng)
      const { body, bodyEncoding } = makeBody(rng, i)
      const config = { privateKeyWif: k.wif, requestPath, scheme, bodyEncoding }
      if (body !== null) config.body = body
      if (fixedTime !== null) config.timestamp = new Date(fixedTime + i * 1000).toISOString()
      const token = getAuthToken(config)
      const parsed = parseAuthToken(token)
      if (parsed === null) throw new Error(`bitcoin-auth made a token it cannot parse: ${token}`)
      const bodyHash = body ? createHash('sha256').update(Buffer.from(body, bodyEncoding)).digest('hex') : ''
      cases.push({
        name: `bitcoin-auth-${scheme}-${i}`,
        lib: 'bitcoin-auth',
        scheme,
        private_key_hex: hex,
        wif: k.wif,
        pubkey: k.pubkey,
        token,
        request_path: requestPath,
        body,
        body_encoding: bodyEncoding,
        timestamp: parsed.timestamp,
        signed_string: `${requestPath}|${parsed.timestamp}|${bodyHash}`
      })
    }
  }

  process.stdout.write(JSON.stringify({ cases }) + '\n')
}

main()
