// /sdk.js: the SDK as a classic script defining the global `sigil`.
import { SigilWalletError, makeWallet } from './sdk.js';

const base = document.currentScript ? document.currentScript.src : window.location.href;

/** `sigil.wallet({url, timeoutMs})` (docs/protocol.md §16). */
export function wallet(options) {
  return makeWallet(base, options);
}

export { SigilWalletError };
