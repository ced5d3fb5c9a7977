// wallet-demo's page: the SDK's three calls, and the backend's verdict.
const wallet = sigil.wallet();
const $ = (id) => document.getElementById(id);
let last = null;

function show(status, value) {
  $('status').textContent = status;
  $('output').textContent = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

function failed(error) {
  show(`${error.code || 'error'}: ${error.message}`, { name: error.name, code: error.code, message: error.message });
}

async function verify(signed) {
  const answer = await fetch('/api/verify', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(signed),
  });
  return { status: answer.status, body: await answer.json() };
}

function verdict(result) {
  return result.status === 200
    ? `Verified by the backend: signed by ${result.body.address}.`
    : `Refused by the backend (${result.status} ${result.body.error}): ${result.body.error_description}`;
}

$('connect').addEventListener('click', () => {
  wallet.requestAccess(['bch_address', 'signature', 'token']).then((access) => {
    show(`Connected as ${access.bchAddr}.`, access);
    $('sign').disabled = false;
    $('token').disabled = false;
  }, failed);
});

$('sign').addEventListener('click', () => {
  wallet.sign({ action: 'login', nonce: crypto.randomUUID() }).then(async (signed) => {
    last = signed;
    const result = await verify(signed);
    show(verdict(result), { signed, backend: result });
    $('again').disabled = false;
  }, failed);
});

$('again').addEventListener('click', async () => {
  if (!last) return;
  const result = await verify(last);
  show(verdict(result), { backend: result });
});

$('token').addEventListener('click', () => {
  wallet.getToken(`${location.origin}/api/orders`).then((token) => {
    const claims = JSON.parse(atob(token.access_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    show(`Token for ${claims.aud}, valid ${token.expires_in} s.`, { token, claims });
  }, failed);
});
