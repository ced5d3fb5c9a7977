// /sdk.mjs: the SDK as an ES module exporting `wallet` and `SigilWalletError`.
import { SigilWalletError, makeWallet } from './sdk.js';

const base = import.meta.url;

/** `wallet({url, timeoutMs})` (docs/protocol.md §16). */
export function wallet(options) {
  return makeWallet(base, options);
}

export { SigilWalletError };
