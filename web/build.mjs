// Builds the browser bundles that sigil-server embeds (docs/protocol.md §16):
//   dist/sdk.js      the SDK, a classic script defining the global `sigil`
//   dist/sdk.mjs     the SDK, an ES module
//   dist/wallet.js   the wallet page's script (an ES module)
//   dist/wallet.css  its styles
//   dist/wallet.html the page, with placeholders the server fills in
//                    (asset URLs under content-hashed names, the config)
//   dist/login.js    the OAuth login page's script (docs/protocol.md §17),
//                    sharing the wallet's modules and its stylesheet
//   dist/login.html  the login page, placeholders as wallet.html's plus the
//                    challenge, the CSRF token and the app asking
// The two pages share the screens of src/parts/ (create, import, back up),
// spliced in where a page says `<!-- include parts/NAME.html -->`.
// Deterministic: a fixed esbuild target, no timestamps, no absolute paths,
// so the same lock file gives the same bytes.
//
//   node build.mjs          writes dist/
//   node build.mjs --check  builds into a temporary directory and fails when
//                           any byte differs from the committed dist/

import { build } from 'esbuild';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const TARGET = ['es2022', 'chrome111', 'firefox111', 'safari16.4'];

async function bundle(entry, format, extra = {}) {
  const result = await build({
    entryPoints: [join(here, 'src', entry)],
    absWorkingDir: here,
    bundle: true,
    minify: true,
    ...(format ? { format } : {}),
    target: TARGET,
    platform: 'browser',
    charset: 'utf8',
    legalComments: 'none',
    sourcemap: false,
    write: false,
    logLevel: 'silent',
    ...extra,
  });
  return result.outputFiles[0].contents;
}

/** src/`name` with each `<!-- include parts/X.html -->` line replaced by that file. */
async function page(name) {
  const text = await readFile(join(here, 'src', name), 'utf8');
  const parts = [];
  for (const piece of text.split(/^<!-- include (parts\/[a-z-]+\.html) -->\n/m)) parts.push(piece);
  for (let i = 1; i < parts.length; i += 2) parts[i] = await readFile(join(here, 'src', parts[i]), 'utf8');
  return Buffer.from(parts.join(''), 'utf8');
}

async function buildInto(out) {
  await mkdir(out, { recursive: true });
  const files = {
    'sdk.js': await bundle('sdk-global.js', 'iife', { globalName: 'sigil' }),
    'sdk.mjs': await bundle('sdk-module.js', 'esm'),
    'wallet.js': await bundle('wallet.js', 'esm'),
    'wallet.css': await bundle('wallet.css', undefined),
    'wallet.html': await page('wallet.html'),
    'login.js': await bundle('login.js', 'esm'),
    'login.html': await page('login.html'),
  };
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(out, name), bytes);
  return Object.keys(files).sort();
}

async function check() {
  const temp = await mkdtemp(join(tmpdir(), 'sigil-web-'));
  try {
    const names = await buildInto(temp);
    const committed = (await readdir(join(here, 'dist'))).sort();
    const problems = [];
    if (committed.join() !== names.join()) {
      problems.push(`dist/ holds ${committed.join(', ')}; the build makes ${names.join(', ')}`);
    }
    for (const name of names) {
      const built = await readFile(join(temp, name));
      const kept = await readFile(join(here, 'dist', name)).catch(() => null);
      if (!kept || !built.equals(kept)) problems.push(`dist/${name} differs from a fresh build`);
    }
    if (problems.length) {
      for (const problem of problems) console.error(`error: ${problem}`);
      console.error('run `node web/build.mjs` and commit web/dist/');
      process.exit(1);
    }
    console.log(`ok: web/dist/ is what the sources and package-lock.json build (${names.length} files)`);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

if (process.argv.includes('--check')) {
  await check();
} else {
  const names = await buildInto(join(here, 'dist'));
  console.log(`wrote web/dist/: ${names.join(', ')}`);
}
