// examples/wallet-demo in headless Chromium: Connect wallet, Sign (the
// backend verifies through sigil once, and refuses the same payload on the
// second try) and Get token, through the SDK loaded with its published
// sha384 integrity.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';

import { closedSoon, createWallet, freePort, launch, sigilBin, startSigil } from './support.mjs';

test('wallet-demo: connect, sign, the backend verifies once and refuses the replay, get a token', async () => {
  const demoPort = await freePort();
  const sigil = await startSigil({ payloadHosts: [`127.0.0.1:${demoPort}`] });
  let demo;
  const browser = await launch();
  try {
    demo = await startDemoOn(sigil.url, demoPort);
    const context = await browser.newContext();
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    const errors = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.goto(demo.url);
    await page.waitForFunction(() => typeof window.sigil === 'object');
    assert.deepEqual(errors, [], 'nothing failed to load');
    // The SDK ran under the integrity sigil publishes (a mismatch blocks it).
    const discovery = await (await fetch(`${sigil.url}/.well-known/openid-configuration`)).json();
    assert.equal(await page.locator('script[integrity]').getAttribute('integrity'), discovery.sigil_sdk_integrity);

    let popup = context.waitForEvent('page');
    await page.getByRole('button', { name: 'Connect wallet' }).click();
    popup = await popup;
    await createWallet(popup, 'demo passphrase');
    await popup.getByRole('button', { name: 'Show private key' }).click();
    await popup.getByRole('button', { name: 'Continue' }).click();
    assert.equal(await popup.locator('.origin.big').first().textContent(), demo.url);
    await popup.getByRole('button', { name: 'Allow' }).click();
    await page.getByRole('status').filter({ hasText: 'Connected as bitcoincash:' }).waitFor();

    popup = context.waitForEvent('page');
    await page.getByRole('button', { name: 'Sign' }).click();
    popup = await popup;
    await popup.getByRole('button', { name: 'Sign' }).click();
    await closedSoon(popup);
    await page.getByRole('status').filter({ hasText: 'Verified by the backend' }).waitFor();
    await page.getByRole('button', { name: 'Verify again' }).click();
    await page.getByRole('status').filter({ hasText: 'replay_detected' }).waitFor();

    popup = context.waitForEvent('page');
    await page.getByRole('button', { name: 'Get token' }).click();
    popup = await popup;
    await closedSoon(popup);
    await page.getByRole('status').filter({ hasText: `Token for ${demo.url}/api/orders` }).waitFor();
  } finally {
    await browser.close();
    demo?.stop();
    await sigil.stop();
  }
});

async function startDemoOn(sigilUrl, port) {
  const bin = join(dirname(sigilBin()), 'wallet-demo');
  const child = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--sigil', sigilUrl], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('wallet-demo: http://')) resolve();
    });
    child.once('exit', () => reject(new Error(`wallet-demo exited: ${output}`)));
  });
  return { port, url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}
