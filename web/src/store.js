// The wallet's storage (docs/protocol.md §16): one IndexedDB database on the
// wallet's origin. It holds the vault (the key as a `.bep` ciphertext, and the
// public address and key), the unlock session (a non-extractable CryptoKey
// and its expiry), the grants, and the count of wrong passphrases. Never the
// key itself in any encoding.

const DB_NAME = 'sigil-wallet';
const STORE = 'state';

let opened = null;

function db() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opened;
}

async function run(mode, action) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const tx = database.transaction(STORE, mode);
    const request = action(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

/** The value under `key`, or undefined. */
export function get(key) {
  return run('readonly', (store) => store.get(key));
}

/** Stores `value` under `key`. */
export function put(key, value) {
  return run('readwrite', (store) => store.put(value, key));
}

/** Removes `key`. */
export function remove(key) {
  return run('readwrite', (store) => store.delete(key));
}

/** The vault `{bep, address, pubkey, createdAt}`, or undefined. */
export const vault = () => get('vault');

/** The grants, `[{origin, permission, grantedAt, expiresAt}]`, expired ones dropped. */
export async function grants(now = Date.now()) {
  const all = (await get('grants')) ?? [];
  return all.filter((grant) => grant.expiresAt > now);
}

/** Replaces the grants. */
export const setGrants = (list) => put('grants', list);

/** The grant of `origin` for `permission` still in force, or undefined. */
export async function grantFor(origin, permission, now = Date.now()) {
  return (await grants(now)).find((g) => g.origin === origin && g.permission === permission);
}

/** Removes every grant (and any sign-without-asking) of `origin`. */
export async function revoke(origin) {
  const list = ((await get('grants')) ?? []).filter((g) => g.origin !== origin);
  await setGrants(list);
  const auto = (await get('autosign')) ?? {};
  if (Object.hasOwn(auto, origin)) {
    delete auto[origin];
    await put('autosign', auto);
  }
}

/** True when `origin` chose "Sign without asking" and it has not run out. */
export async function autoSignFor(origin, now = Date.now()) {
  const auto = (await get('autosign')) ?? {};
  return (auto[origin] ?? 0) > now;
}

/** Lets `origin` sign without asking until `until` (ms). */
export async function setAutoSign(origin, until) {
  const auto = (await get('autosign')) ?? {};
  auto[origin] = until;
  await put('autosign', auto);
}
