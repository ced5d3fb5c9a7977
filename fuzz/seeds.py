#!/usr/bin/env python3
"""Writes fuzz/corpus/<target>/ from the repository's public vectors.

Run from anywhere: python3 fuzz/seeds.py. The corpus is committed; rerun
this only when the vectors change. Every seed is named by the SHA-1 of its
bytes, as libFuzzer names what it finds, so reruns are idempotent.
"""
import base64, hashlib, json, pathlib, shutil

ROOT = pathlib.Path(__file__).resolve().parent
VECTORS = ROOT.parent / "tests" / "vectors"


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def load(name):
    return json.loads((VECTORS / name).read_text())


def cases(name):
    return load(name)["cases"]


def all_strings(*names):
    return [s for n in names for case in cases(n) for s in strings(case.get("input", case))]


def hex_bytes(text):
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


seeds = {t: set() for t in [
    "signature", "brc77", "x_auth_token", "token_request", "payload", "address",
    "jwt", "jwks", "validator_headers", "oauth_authorize", "oauth_register", "oauth_login",
    "oauth_token"]}

for case in cases("bsm_verify.json"):
    i = case["input"]
    sig = i.get("signature_base64", "").encode()
    seeds["signature"].add(bytes([min(len(sig), 255)]) + sig + i.get("message_utf8", "").encode())

for name in ("brc77.json", "token_for_endpoint.json", "signed_requests.json"):
    for case in cases(name):
        for text in strings(case):
            raw = hex_bytes(text)
            if raw and raw[:4] == b"\x42\x42\x33\x01":
                seeds["brc77"].add(raw)

for text in all_strings("bitcoin_auth_tokens.json"):
    seeds["x_auth_token"].add(text.encode())
for case in cases("token_for_endpoint.json"):
    for text in strings(case):
        seeds["token_request"].add(text.encode())
for case in cases("signup_payloads.json"):
    i = case["input"]
    for text in strings(i):
        seeds["payload"].add(text.encode())
    payload = i.get("payload") or i.get("signed_payload")
    if payload:
        seeds["payload"].add("\n".join([payload, i.get("address", ""), i.get("signature", "")]).encode())
for case in load("signup_payloads.json").get("json_stringify_cases", []):
    for text in strings(case):
        seeds["payload"].add(text.encode())
for text in all_strings("cashaddr.json", "wif_address.json") + [
        s for c in cases("wif_address.json") for s in strings(c.get("expected", {}))]:
    seeds["address"].add(text.encode())
for case in cases("es256_jwt.json"):
    for text in strings(case):
        if text.count(".") == 2:
            seeds["jwt"].add(text.encode())
    jwks = case["input"].get("jwks") if isinstance(case.get("input"), dict) else None
    if jwks:
        seeds["jwks"].add(json.dumps(jwks).encode())
wp = json.loads((VECTORS / "wycheproof" / "json_web_key_test.json").read_text())
for group in wp["testGroups"]:
    # Each group's key, as the public half a JWKS would publish.
    key = {k: v for k, v in group.get("private", {}).items() if k not in ("d", "p", "q", "dp", "dq", "qi", "k")}
    if key:
        seeds["jwks"].add(json.dumps({"keys": [key]}).encode())
    for test in group["tests"][:20]:
        seeds["jwt"].add(test["jws"].encode())
for case in cases("signed_requests.json"):
    i, e = case["input"], case.get("expected", {})
    headers = e.get("headers_on_the_wire") or {}
    head = "".join(f"{k}: {v}\n" for k, v in headers.items())
    seeds["validator_headers"].add((head + "\n" + i.get("body", "")).encode())
for case in cases("bitcoin_auth_tokens.json"):
    seeds["validator_headers"].add(f"x-auth-token: {case['input']['token']}\n\n".encode())
for case in cases("es256_jwt.json"):
    for text in strings(case):
        if text.count(".") == 2:
            seeds["validator_headers"].add(f"authorization: Bearer {text}\n\n".encode())

seeds["oauth_authorize"] |= {s.encode() for s in [
    "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback"
    "&scope=openid+profile&state=xyz&nonce=n-0S6_WzA2Mj"
    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
    "response_type=code&client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A49152%2Fcallback"
    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    "&prompt=none&max_age=0&resource=https%3A%2F%2Fapi.example&bap_id=abc",
    "response_type=token&client_id=app&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback",
    "response_type=code&client_id=app&redirect_uri=https%3A%2F%2Fevil.example%2F",
    "response_type=code&client_id=app&code_challenge=abc&code_challenge_method=plain",
]}
seeds["oauth_register"] |= {json.dumps(m).encode() for m in [
    {"redirect_uris": ["https://app.example/callback"], "client_name": "App"},
    {"redirect_uris": ["http://127.0.0.1/cb", "http://[::1]:8080/cb"], "grant_types": ["authorization_code", "refresh_token"]},
    {"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "bitcoin_auth_token",
     "bitcoin_pubkey": "027ce4b42b4d2f45169d417007575544b8953a85ff345c63f09871cb2e601dd2bb"},
    {"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "private_key_jwt",
     "jwks": load("es256_jwt.json")["cases"][0]["input"].get("jwks")},
    {"redirect_uris": ["https://app.example/cb#frag"], "response_types": ["token"]},
]}
seeds["oauth_login"] |= {s.encode() for s in [
    "sigil-login:v1\nissuer:https://sigil.example\nnonce:AAAAAAAAAAAAAAAAAAAAAA\nissued-at:1700000000000",
    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
    "openid profile bsv:address offline_access",
]}

# oauth_token: the Authorization line, the X-Auth-Token line, the body.
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CODE = ("grant_type=authorization_code&code=c0de&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
        f"&code_verifier={VERIFIER}")
basic = base64.b64encode(b"client_secret_basic:s3cret").decode()
seeds["oauth_token"] |= {s.encode() for s in [
    f"\n\n{CODE}&client_id=none",
    f"Basic {basic}\n\n{CODE}",
    f"Basic {basic}\n\ngrant_type=refresh_token&refresh_token=r3fresh&scope=openid",
    f"\n\n{CODE}&client_id=client_secret_post&client_secret=s3cret",
    f"Basic {basic}\n\n{CODE}&client_id=other",
    "\n\ngrant_type=password&username=a&password=b",
    "\n\ngrant_type=authorization_code&code=a&code=b",
    f"\n\n{CODE}&client_assertion=x.y.z",
]}
ASSERTION = "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
for case in cases("es256_jwt.json")[:20]:
    token = case["input"].get("token") if isinstance(case.get("input"), dict) else None
    if isinstance(token, str):
        seeds["oauth_token"].add(
            f"\n\n{CODE}&client_assertion_type={ASSERTION}&client_assertion={token}".encode())
for case in cases("bitcoin_auth_tokens.json"):
    i = case["input"]
    body = i.get("verify", {}).get("body") or CODE
    seeds["oauth_token"].add(f"\n{i['token']}\n{body}&client_id=bitcoin_auth_token".encode())

corpus = ROOT / "corpus"
shutil.rmtree(corpus, ignore_errors=True)
for target, items in sorted(seeds.items()):
    directory = corpus / target
    directory.mkdir(parents=True)
    for item in sorted(items)[:300]:
        (directory / hashlib.sha1(item).hexdigest()).write_bytes(item)
    print(f"{target}: {min(len(items), 300)} seeds")
