// The wallet's JavaScript crypto (web/src/crypto.js) inside Chromium: it
// reproduces the repository's BSM, WIF and cashaddr vectors
// (tests/vectors/), the Rust CLI verifies what the browser signed, and the
// browser verifies what the Rust CLI signed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

import { launch, repoRoot, sigilCli, startSite } from './support.mjs';

const vectors = (file) => JSON.parse(readFileSync(join(repoRoot, 'tests/vectors', file), 'utf8')).cases;

let browser;
let site;
let page;

before(async () => {
  const bundle = await build({
    entryPoints: [join(repoRoot, 'web/src/crypto.js')],
    bundle: true,
    format: 'iife',
    globalName: 'walletCrypto',
    write: false,
    logLevel: 'silent',
  });
  site = await startSite({ '/': { body: '<!doctype html><title>crypto</title>' } });
  browser = await launch();
  page = await browser.newPage();
  // A loopback origin is a secure context: crypto.subtle is there.
  await page.goto(site.url());
  await page.addScriptTag({ content: bundle.outputFiles[0].text });
});

after(async () => {
  await browser?.close();
  await site?.stop();
});

test('BSM signing vectors (compressed and uncompressed P2PKH) in Chromium', async () => {
  const cases = vectors('bsm_sign.json').filter((c) => !c.input.segwit_type);
  assert.ok(cases.length >= 20, `${cases.length} cases`);
  const results = await page.evaluate((list) => list.map((c) => {
    const { input } = c;
    const key = input.wif
      ? walletCrypto.decodeWif(input.wif)
      : { priv: walletCrypto.hexToBytes(input.priv_hex.padStart(64, '0')), compressed: input.compressed };
    const message = input.message_utf8 ?? input.message_repeat.char.repeat(input.message_repeat.count);
    return {
      name: c.name,
      signature: walletCrypto.bsmSign(message, key.priv, key.compressed),
      magic: walletCrypto.bytesToHex(walletCrypto.magicHash(message)),
      pubkey: walletCrypto.bytesToHex(walletCrypto.publicKey(key.priv, true)),
    };
  }), cases);
  for (const [i, c] of cases.entries()) {
    assert.equal(results[i].signature, c.expected.signature_base64, c.name);
    assert.equal(results[i].magic, c.expected.magic_hash_hex, c.name);
    assert.equal(results[i].pubkey, c.expected.public_key_compressed_hex, c.name);
  }
});

test('WIF vectors: keys, public keys, legacy and cashaddr addresses, and the refusals', async () => {
  const cases = vectors('wif_address.json');
  const results = await page.evaluate((list) => list.map((c) => {
    try {
      const key = walletCrypto.decodeWif(c.input.wif);
      const pub = walletCrypto.publicKey(key.priv, key.compressed);
      return {
        ok: true,
        priv: walletCrypto.bytesToHex(key.priv),
        pub: walletCrypto.bytesToHex(pub),
        legacy: walletCrypto.legacyAddress(pub, key.network),
        cashaddr: walletCrypto.cashaddrOf(pub),
        wif: walletCrypto.encodeWif(key.priv, key),
      };
    } catch (error) {
      return { ok: false, error: error.message };
    }
  }), cases);
  for (const [i, c] of cases.entries()) {
    const e = c.expected;
    const refused = e.valid === false || e.error !== undefined;
    assert.equal(results[i].ok, !refused, `${c.name}: ${JSON.stringify(results[i])}`);
    if (refused) continue;
    assert.equal(results[i].priv, e.private_key_hex, c.name);
    assert.equal(results[i].pub, e.public_key_hex, c.name);
    assert.equal(results[i].wif, c.input.wif, c.name);
    const legacy = e.network === 'testnet' ? e.p2pkh_testnet : e.p2pkh_mainnet;
    if (legacy) assert.equal(results[i].legacy, legacy, c.name);
    if (e.cashaddr) assert.equal(results[i].cashaddr, e.cashaddr, c.name);
  }
});

test('cashaddr vectors: legacy translation, 20-byte P2PKH, token-aware, checksum-only and Signup forms', async () => {
  const cases = vectors('cashaddr.json').filter((c) => c.group !== 'sized' || c.expected.size_bytes === 20);
  const results = await page.evaluate((list) => list.map((c) => {
    const text = c.input.cashaddr ?? c.input.address;
    let decoded = null;
    let error = null;
    try {
      const d = walletCrypto.decodeCashaddr(text);
      decoded = { network: d.network, type: d.type, hash: walletCrypto.bytesToHex(d.hash) };
    } catch (e) {
      error = e.message;
    }
    const encoded = c.group === 'legacy_translation'
      ? walletCrypto.encodeCashaddr(walletCrypto.hexToBytes(c.expected.hash160_hex), {
        network: c.expected.network, type: c.expected.kind === 'p2sh' ? 1 : 0,
      })
      : null;
    return { decoded, error, encoded, hash: walletCrypto.addressHash(text) && walletCrypto.bytesToHex(walletCrypto.addressHash(text)) };
  }), cases);
  let checked = 0;
  for (const [i, c] of cases.entries()) {
    const r = results[i];
    const e = c.expected;
    if (c.group === 'legacy_translation') {
      assert.equal(r.encoded, c.input.cashaddr, c.name);
      assert.equal(r.decoded.hash, e.hash160_hex, c.name);
    } else if (c.group === 'checksum_only') {
      assert.equal(r.decoded, null, `${c.name} must be refused`);
    } else if (c.group === 'token_aware' || c.group === 'sized') {
      if (e.prefix && !['bitcoincash', 'bchtest', 'bchreg'].includes(e.prefix)) continue;
      assert.equal(r.decoded?.hash, e.hash_hex, c.name);
      assert.equal(r.decoded.type, e.type, c.name);
    } else if (c.group === 'signup_forms') {
      // P2PKH in any accepted spelling (cashaddr with or without prefix,
      // upper case, legacy) gives the key hash; refused spellings give none.
      if (e.valid) assert.equal(r.hash, e.hash160_hex, c.name);
      else assert.equal(r.hash, null, `${c.name}: ${JSON.stringify(c.input)}`);
    } else {
      continue;
    }
    checked += 1;
  }
  assert.ok(checked >= 30, `${checked} cases checked`);
});

test('Rust verifies what the browser signed, and the browser verifies what Rust signed', async () => {
  const signed = await page.evaluate(() => Array.from({ length: 5 }, (_, n) => {
    const priv = walletCrypto.randomPrivateKey();
    const message = `sigil browser ↔ rust ${n} ${'é'.repeat(n * 40)}`;
    const pub = walletCrypto.publicKey(priv, true);
    return {
      message,
      signature: walletCrypto.bsmSign(message, priv, true),
      legacy: walletCrypto.legacyAddress(pub),
      cashaddr: walletCrypto.cashaddrOf(pub),
      wif: walletCrypto.encodeWif(priv),
    };
  }));
  for (const item of signed) {
    for (const address of [item.legacy, item.cashaddr]) {
      const out = sigilCli(['verify', '--address', address, '--signature', item.signature, item.message]);
      assert.equal(out.split('\n')[0], 'valid', `${address}: ${out}`);
    }
    // The reverse: the CLI signs with the same key, the browser verifies.
    const rust = sigilCli(['sign', `${item.message} (rust)`], { SIGIL_WIF: item.wif }).trim();
    const ok = await page.evaluate(
      ([m, s, a, b]) => [walletCrypto.bsmVerify(m, s, a), walletCrypto.bsmVerify(m, s, b), walletCrypto.bsmVerify(`${m}!`, s, a)],
      [`${item.message} (rust)`, rust, item.legacy, item.cashaddr],
    );
    assert.deepEqual(ok, [true, true, false]);
    // RFC 6979: Rust and the browser give the same bytes for the same text.
    const again = await page.evaluate(
      ([m, wif]) => walletCrypto.bsmSign(m, walletCrypto.decodeWif(wif).priv, true),
      [`${item.message} (rust)`, item.wif],
    );
    assert.equal(again, rust);
  }
});
