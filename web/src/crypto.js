// The wallet's key handling (docs/protocol.md §1, §2, §16): WIF, addresses
// (legacy P2PKH and cashaddr), Bitcoin Signed Message, and the `.bep`
// backup. Curve and hash code comes from @noble/curves and @noble/hashes,
// base58check from @scure/base; nothing here is curve arithmetic.
//
// Every function that takes a private key takes its 32 bytes; callers zero
// them (`bytes.fill(0)`) when done.

import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { base64, createBase58check } from '@scure/base';

export { bytesToHex, hexToBytes };

const base58check = createBase58check(sha256);

/** PBKDF2 iterations of the vault and of `.bep` files. */
export const PBKDF2_ITERATIONS = 600_000;
/** The shortest passphrase accepted. */
export const MIN_PASSPHRASE = 8;

/** A fresh private key from `crypto.getRandomValues`. */
export function randomPrivateKey() {
  for (;;) {
    const bytes = crypto.getRandomValues(new Uint8Array(32));
    if (secp256k1.utils.isValidSecretKey(bytes)) return bytes;
  }
}

/**
 * Decodes a WIF (docs/protocol.md §1): `{priv, compressed, network}`.
 * Throws `Error('…')` naming what is wrong.
 */
export function decodeWif(text) {
  let bytes;
  try {
    bytes = base58check.decode(String(text).trim());
  } catch {
    throw new Error('not a WIF private key (bad base58 or checksum)');
  }
  const network = bytes[0] === 0x80 ? 'mainnet' : bytes[0] === 0xef ? 'testnet' : null;
  if (!network) throw new Error('not a WIF private key (unknown version byte)');
  let compressed;
  if (bytes.length === 34 && bytes[33] === 0x01) compressed = true;
  else if (bytes.length === 33) compressed = false;
  else throw new Error('not a WIF private key (wrong length)');
  const priv = bytes.slice(1, 33);
  bytes.fill(0);
  if (!secp256k1.utils.isValidSecretKey(priv)) throw new Error('not a valid private key');
  return { priv, compressed, network };
}

/** The WIF of `priv` (mainnet, compressed unless told otherwise). */
export function encodeWif(priv, { compressed = true, network = 'mainnet' } = {}) {
  const payload = new Uint8Array(compressed ? 34 : 33);
  payload[0] = network === 'testnet' ? 0xef : 0x80;
  payload.set(priv, 1);
  if (compressed) payload[33] = 0x01;
  const wif = base58check.encode(payload);
  payload.fill(0);
  return wif;
}

/** SEC1 public key of `priv`. */
export function publicKey(priv, compressed = true) {
  return secp256k1.getPublicKey(priv, compressed);
}

/** RIPEMD160(SHA256(bytes)). */
export function hash160(bytes) {
  return ripemd160(sha256(bytes));
}

/** Base58check P2PKH address of a public key (`0x00` mainnet, `0x6f` testnet). */
export function legacyAddress(pubkey, network = 'mainnet') {
  const payload = new Uint8Array(21);
  payload[0] = network === 'testnet' ? 0x6f : 0x00;
  payload.set(hash160(pubkey), 1);
  return base58check.encode(payload);
}

// ---------------------------------------------------------------- cashaddr --
// The BCH address format: a 40-bit BCH checksum over the prefix and the
// 5-bit payload. Not a hash nor a curve: written from its specification and
// checked against tests/vectors/cashaddr.json.

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATORS = [
  0x98f2bc8e61n, 0x79b76d99e2n, 0xf33e5fb3c4n, 0xae2eabe2a8n, 0x1e4f43e470n,
];
const PREFIXES = { mainnet: 'bitcoincash', testnet: 'bchtest', regtest: 'bchreg' };

function polymod(values) {
  let c = 1n;
  for (const d of values) {
    const c0 = c >> 35n;
    c = ((c & 0x07ffffffffn) << 5n) ^ BigInt(d);
    for (let i = 0; i < 5; i++) if ((c0 >> BigInt(i)) & 1n) c ^= GENERATORS[i];
  }
  return c ^ 1n;
}

function prefixWords(prefix) {
  return [...prefix].map((ch) => ch.charCodeAt(0) & 0x1f).concat([0]);
}

function regroup(data, from, to, pad) {
  let acc = 0;
  let bits = 0;
  const out = [];
  const max = (1 << to) - 1;
  for (const value of data) {
    acc = (acc << from) | value;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & max);
    }
    acc &= (1 << bits) - 1;
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || ((acc << (to - bits)) & max) !== 0) {
    throw new Error('not a cashaddr address (bad padding)');
  }
  return out;
}

const HASH_SIZES = [20, 24, 28, 32, 40, 48, 56, 64];

/** Lower-case cashaddr with prefix of a 20-byte hash (`type` 0 P2PKH, 1 P2SH). */
export function encodeCashaddr(hash, { network = 'mainnet', type = 0 } = {}) {
  const prefix = PREFIXES[network];
  const size = HASH_SIZES.indexOf(hash.length);
  if (size < 0) throw new Error('cashaddr: unsupported hash size');
  const payload = regroup([(type << 3) | size, ...hash], 8, 5, true);
  const mod = polymod([...prefixWords(prefix), ...payload, 0, 0, 0, 0, 0, 0, 0, 0]);
  const checksum = [];
  for (let i = 0; i < 8; i++) checksum.push(Number((mod >> BigInt(5 * (7 - i))) & 0x1fn));
  return `${prefix}:${[...payload, ...checksum].map((w) => CHARSET[w]).join('')}`;
}

/**
 * Decodes a cashaddr (prefix optional, mixed case refused):
 * `{network, type, hash}`.
 */
export function decodeCashaddr(text, defaultNetwork = 'mainnet') {
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) {
    throw new Error('not a cashaddr address (mixed case)');
  }
  const lower = text.toLowerCase();
  const colon = lower.lastIndexOf(':');
  const prefix = colon >= 0 ? lower.slice(0, colon) : PREFIXES[defaultNetwork];
  const body = colon >= 0 ? lower.slice(colon + 1) : lower;
  const network = Object.keys(PREFIXES).find((n) => PREFIXES[n] === prefix);
  if (!network) throw new Error('not a cashaddr address (unknown prefix)');
  const words = [...body].map((ch) => CHARSET.indexOf(ch));
  if (words.length < 9 || words.some((w) => w < 0)) {
    throw new Error('not a cashaddr address (bad character or length)');
  }
  if (polymod([...prefixWords(prefix), ...words]) !== 0n) {
    throw new Error('not a cashaddr address (bad checksum)');
  }
  const bytes = regroup(words.slice(0, -8), 5, 8, false);
  const version = bytes[0];
  if (version & 0x80) throw new Error('not a cashaddr address (reserved version bit)');
  const hash = Uint8Array.from(bytes.slice(1));
  if (hash.length !== HASH_SIZES[version & 0x07]) {
    throw new Error('not a cashaddr address (hash size does not match its version)');
  }
  return { network, type: version >> 3, hash };
}

/** Lower-case mainnet cashaddr (P2PKH) of a public key. */
export function cashaddrOf(pubkey, network = 'mainnet') {
  return encodeCashaddr(hash160(pubkey), { network, type: 0 });
}

// --------------------------------------------------------------------- BSM --

function compactSize(n) {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >> 8);
  return Uint8Array.of(0xfe, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
}

const MAGIC = utf8ToBytes('\x18Bitcoin Signed Message:\n');

/** SHA256(SHA256(0x18 ‖ "Bitcoin Signed Message:\n" ‖ CompactSize(len) ‖ message)). */
export function magicHash(message) {
  const bytes = typeof message === 'string' ? utf8ToBytes(message) : message;
  const size = compactSize(bytes.length);
  const preimage = new Uint8Array(MAGIC.length + size.length + bytes.length);
  preimage.set(MAGIC, 0);
  preimage.set(size, MAGIC.length);
  preimage.set(bytes, MAGIC.length + size.length);
  return sha256(sha256(preimage));
}

/**
 * BSM signature of `message` (a string, signed as UTF-8) as 65 bytes
 * `header ‖ r ‖ s`: RFC 6979, low-S, header 27 + recid (+4 compressed).
 */
export function bsmSignBytes(message, priv, compressed = true) {
  const sig = secp256k1.sign(magicHash(message), priv, {
    prehash: false,
    lowS: true,
    format: 'recovered',
  });
  const out = new Uint8Array(65);
  out[0] = 27 + sig[0] + (compressed ? 4 : 0);
  out.set(sig.subarray(1), 1);
  return out;
}

/** [`bsmSignBytes`] as standard base64 with padding. */
export function bsmSign(message, priv, compressed = true) {
  return base64.encode(bsmSignBytes(message, priv, compressed));
}

/**
 * The public key a base64 BSM signature of `message` recovers to, as
 * `{pubkey, compressed}`; headers 27–34 only (P2PKH). Throws when the
 * signature cannot be decoded.
 */
export function bsmRecover(message, signatureBase64) {
  const bytes = base64.decode(signatureBase64);
  if (bytes.length !== 65) throw new Error('BSM signature: not 65 bytes');
  const header = bytes[0];
  if (header < 27 || header > 34) throw new Error('BSM signature: unsupported header');
  const compressed = header >= 31;
  const recovered = new Uint8Array(65);
  recovered[0] = (header - 27) & 3;
  recovered.set(bytes.subarray(1), 1);
  const sig = secp256k1.Signature.fromBytes(recovered, 'recovered');
  const point = sig.recoverPublicKey(magicHash(message));
  return { pubkey: point.toBytes(compressed), compressed };
}

/**
 * True when `signatureBase64` is a BSM signature of `message` by the
 * cashaddr or legacy P2PKH `address` (compared as hash160, never as text).
 */
export function bsmVerify(message, signatureBase64, address) {
  let recovered;
  try {
    recovered = bsmRecover(message, signatureBase64);
  } catch {
    return false;
  }
  const want = addressHash(address);
  return want !== null && bytesToHex(hash160(recovered.pubkey)) === bytesToHex(want);
}

/** hash160 of a P2PKH address (legacy mainnet/testnet or cashaddr type 0/2), or null. */
export function addressHash(address) {
  try {
    const bytes = base58check.decode(address);
    if (bytes.length === 21 && (bytes[0] === 0x00 || bytes[0] === 0x6f)) return bytes.slice(1);
    return null;
  } catch {
    try {
      const decoded = decodeCashaddr(address);
      return decoded.type === 0 || decoded.type === 2 ? decoded.hash : null;
    } catch {
      return null;
    }
  }
}

// --------------------------------------------------------------------- .bep --
// base64(salt (16) ‖ IV (12) ‖ AES-256-GCM ciphertext+tag) of `{"wif": …}`,
// the key PBKDF2-HMAC-SHA256 (600 000) of the passphrase: the format of
// bitcoin-backup's `.bep` files.

/**
 * The AES-256-GCM key of `passphrase` and `salt`, non-extractable, so it
 * can be kept (in IndexedDB) without its bytes ever being readable.
 */
export async function deriveKey(passphrase, salt, iterations = PBKDF2_ITERATIONS) {
  const material = await crypto.subtle.importKey(
    'raw',
    utf8ToBytes(passphrase),
    'PBKDF2',
    false,
    ['deriveKey'],
  );
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** Splits a `.bep` text into `{salt, iv, ciphertext}`; throws when it is not one. */
export function parseBep(text) {
  let bytes;
  try {
    bytes = base64.decode(String(text).trim());
  } catch {
    throw new Error('not a .bep backup (not base64)');
  }
  if (bytes.length < 16 + 12 + 16 + 1) throw new Error('not a .bep backup (too short)');
  return { salt: bytes.slice(0, 16), iv: bytes.slice(16, 28), ciphertext: bytes.slice(28) };
}

/** Encrypts `{"wif": wif}` under `key` (from [`deriveKey`] with `salt`) as a `.bep` text. */
export async function sealBep(wif, key, salt) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const plain = utf8ToBytes(JSON.stringify({ wif }));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plain));
  plain.fill(0);
  const out = new Uint8Array(16 + 12 + sealed.length);
  out.set(salt, 0);
  out.set(iv, 16);
  out.set(sealed, 28);
  return base64.encode(out);
}

/**
 * Decrypts a `.bep` text with `key` (derived from its salt); returns the
 * plaintext bytes (`{"wif": …}`), which the caller zeroes. Throws
 * `Error('wrong passphrase')` when the tag does not verify.
 */
export async function openBep(text, key) {
  const { iv, ciphertext } = parseBep(text);
  try {
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, ciphertext));
  } catch {
    throw new Error('wrong passphrase');
  }
}

/** The WIF inside decrypted `.bep` plaintext bytes (zeroed afterwards). */
export function wifOfPlaintext(plain) {
  try {
    const value = JSON.parse(new TextDecoder().decode(plain));
    if (!value || typeof value.wif !== 'string') throw new Error('no wif');
    return value.wif;
  } catch {
    throw new Error('not a .bep backup (no "wif" inside)');
  } finally {
    plain.fill(0);
  }
}
