// sigil's browser SDK (docs/protocol.md §16): opens the wallet as a popup and
// talks to it with postMessage only. Built twice: /sdk.js (a classic script
// defining the global `sigil`) and /sdk.mjs (an ES module); both come from
// this file through sdk-global.js and sdk-module.js.

import { MAX_DATA_BYTES, PERMISSIONS, PROTOCOL, isLoopbackHost } from './channel.js';

/** The `Error` every SDK call rejects with; `code` is one of docs/protocol.md §16. */
export class SigilWalletError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SigilWalletError';
    this.code = code;
  }
}

const MESSAGES = {
  denied: 'the person declined the request in the wallet',
  popup_blocked:
    'the browser blocked the wallet window: call this from a click or key handler (a user gesture)',
  closed: 'the wallet window was closed before it answered',
  timeout: 'the wallet did not answer in time',
  not_granted: 'this site has not been granted that permission: call requestAccess first',
  invalid_data: 'the request is not valid',
  origin_not_allowed:
    'this page has an opaque origin or plain http on a host that is not loopback: serve it over https',
  opener_severed:
    "this page's Cross-Origin-Opener-Policy cut the wallet window off; send Cross-Origin-Opener-Policy: same-origin-allow-popups (or none) on it",
};

function fail(code, detail) {
  return new SigilWalletError(code, detail ? `${MESSAGES[code]}: ${detail}` : MESSAGES[code]);
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function originProblem() {
  // self.origin is "null" for an opaque origin (a sandboxed frame, a data:
  // URL), where location.origin still shows the URL's.
  const { protocol, hostname } = window.location;
  if (self.origin === 'null') return 'opaque origin';
  if (protocol === 'https:') return null;
  if (protocol === 'http:' && isLoopbackHost(hostname)) return null;
  return `${protocol}//${hostname}`;
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** What is wrong with the arguments of `method`, or null. */
function argumentProblem(method, params) {
  if (method === 'requestAccess') {
    const [permissions] = params;
    if (!Array.isArray(permissions) || permissions.length === 0) {
      return 'permissions must be a non-empty array';
    }
    const unknown = permissions.filter((p) => !PERMISSIONS.includes(p));
    if (unknown.length) return `unknown permission ${JSON.stringify(unknown[0])}`;
  }
  if (method === 'sign') {
    const [data] = params;
    if (!isPlainObject(data)) return 'data must be a plain JSON object';
    let text;
    try {
      text = JSON.stringify(data);
    } catch {
      return 'data cannot be serialised as JSON';
    }
    if (new TextEncoder().encode(text).length > MAX_DATA_BYTES) {
      return `data is larger than ${MAX_DATA_BYTES} bytes as JSON text`;
    }
  }
  if (method === 'getToken') {
    const [endpoint] = params;
    let url;
    try {
      url = new URL(endpoint);
    } catch {
      return 'endpoint must be an absolute URL';
    }
    if (url.origin !== self.origin) {
      return `endpoint must be on this page's origin (${self.origin})`;
    }
  }
  return null;
}

/**
 * A wallet handle: `wallet({url, timeoutMs})`. `url` defaults to `/wallet` on
 * `base` (the origin the SDK was loaded from).
 */
export function makeWallet(base, options = {}) {
  const url = new URL(options.url ?? '/wallet', base ?? window.location.href).href;
  const walletOrigin = new URL(url).origin;
  const timeoutMs = options.timeoutMs ?? 300_000;

  // One popup per call, opened before anything asynchronous happens so the
  // caller's user gesture is still in force.
  function call(method, params) {
    const problem = originProblem();
    if (problem) return Promise.reject(fail('origin_not_allowed', problem));
    const invalid = argumentProblem(method, params);
    if (invalid) return Promise.reject(fail('invalid_data', invalid));
    const id = randomId();
    const popup = window.open(url, `sigil-wallet-${id}`, 'popup,width=440,height=680');
    if (!popup) return Promise.reject(fail('popup_blocked'));
    return new Promise((resolve, reject) => {
      let settled = false;
      let ready = false;
      const finish = (error, value) => {
        if (settled) return;
        settled = true;
        window.removeEventListener('message', onMessage);
        clearInterval(poll);
        clearTimeout(timer);
        if (error) {
          try {
            popup.close();
          } catch {
            // a severed popup cannot be reached
          }
          reject(error);
        } else {
          resolve(value);
        }
      };
      const onMessage = (event) => {
        if (event.origin !== walletOrigin || event.source !== popup) return;
        const message = event.data;
        if (!message || message.protocol !== PROTOCOL) return;
        if (message.type === 'ready' && !ready) {
          ready = true;
          popup.postMessage({ protocol: PROTOCOL, type: 'request', id, method, params }, walletOrigin);
        } else if (message.type === 'response' && message.id === id) {
          if (message.error) {
            const code = Object.hasOwn(MESSAGES, message.error.code) ? message.error.code : 'invalid_data';
            finish(new SigilWalletError(code, message.error.message || MESSAGES[code]));
          } else {
            finish(null, message.result);
          }
        }
      };
      window.addEventListener('message', onMessage);
      const poll = setInterval(() => {
        if (popup.closed) finish(fail(ready ? 'closed' : 'opener_severed'));
      }, 200);
      const timer = setTimeout(() => finish(fail('timeout')), timeoutMs);
    });
  }

  return {
    /** Asks for `permissions` ⊆ ["bch_address", "signature", "token"]. */
    requestAccess: (permissions) => call('requestAccess', [permissions]),
    /** Signs `data` (a plain JSON object) as a §11 payload. */
    sign: (data) => call('sign', [data]),
    /** An access token for `endpoint` (on this page's own origin). */
    getToken: (endpoint) => call('getToken', [endpoint]),
    /** Removes every grant of this origin. */
    disconnect: () => call('disconnect', []).then(() => undefined),
  };
}
