// What the SDK and the wallet agree on (docs/protocol.md §16): the message
// tag, the permissions, the size limit of signed data, loopback hosts.

/** Every message of the channel carries this `protocol` member. */
export const PROTOCOL = 'sigil-wallet/1';

/** The permissions an app may ask for. */
export const PERMISSIONS = ['bch_address', 'signature', 'token'];

/** Largest `data` of `sign`, as UTF-8 JSON text. */
export const MAX_DATA_BYTES = 16 * 1024;

/** Hosts on which plain http is allowed: localhost, *.localhost, 127.0.0.0/8, [::1]. */
export function isLoopbackHost(hostname) {
  const host = hostname.toLowerCase();
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === '[::1]'
  );
}

/** True for an origin the wallet will deal with (https, or http on loopback). */
export function isAllowedOrigin(origin) {
  if (typeof origin !== 'string' || origin === 'null') return false;
  let url;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}
