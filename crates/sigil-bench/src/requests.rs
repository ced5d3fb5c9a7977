//! Distinct, valid, fresh token requests (docs/protocol.md §3), signed with sigil-core.
//!
//! Request `i` of a set is signed by key `i mod K` for the endpoint
//! `<prefix>/<i>`, so no two requests of a set (nor of two sets with
//! different prefixes) are the same statement and none is refused as a
//! replay. All requests of a set carry the same timestamp: the moment the
//! set was made, which keeps them inside the server's window (300 s old at
//! most) for the few minutes a run lasts.

use std::thread;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use clap::ValueEnum;
use serde::Serialize;
use sigil_core::hash::sha256;
use sigil_core::{Network, PrivateKey, TokenMessage, brc77, bsm};

/// Which signature scheme the requests use (docs/protocol.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SchemeArg {
    /// Bitcoin Signed Message, 65 bytes, compressed-key header.
    Bsm,
    /// BRC-77 "anyone" envelope.
    Brc77,
}

impl SchemeArg {
    /// The name used in tables.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Bsm => "bsm",
            Self::Brc77 => "brc77",
        }
    }
}

/// Which message form the requests sign (docs/protocol.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FormArg {
    /// `endpoint:timestamp`.
    Compat,
    /// `sigil-token-request:v1\nissuer:…\nendpoint:…\ntimestamp:…`.
    Bound,
}

impl FormArg {
    /// The name used in tables.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Compat => "compat",
            Self::Bound => "bound",
        }
    }
}

/// What every request of a set has in common.
#[derive(Debug, Clone)]
pub(crate) struct RequestSpec {
    /// Signature scheme.
    pub(crate) scheme: SchemeArg,
    /// Message form.
    pub(crate) form: FormArg,
    /// The server's issuer (the bound form names it).
    pub(crate) issuer: String,
    /// Endpoint `i` is `<endpoint_prefix>/<i>`.
    pub(crate) endpoint_prefix: String,
    /// The signed timestamp of request 0, milliseconds since the epoch.
    pub(crate) timestamp_ms: u64,
    /// Nanoseconds between the signed timestamps of consecutive requests
    /// (0: all at `timestamp_ms`). Real clients sign just before sending,
    /// so the timestamps a server receives advance with time; one shared
    /// timestamp for a whole phase would not.
    pub(crate) spacing_ns: u64,
}

impl RequestSpec {
    /// The signed timestamp of request `index`.
    pub(crate) fn timestamp_of(&self, index: u64) -> u64 {
        let offset = u128::from(index) * u128::from(self.spacing_ns) / 1_000_000;
        self.timestamp_ms
            .saturating_add(u64::try_from(offset).unwrap_or(u64::MAX))
    }
}

/// `count` random compressed mainnet keys.
///
/// # Errors
/// When the operating system gives no randomness.
pub(crate) fn random_keys(count: usize) -> anyhow::Result<Vec<PrivateKey>> {
    let mut keys = Vec::with_capacity(count);
    while keys.len() < count {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        // Out of range with probability 2^-128: draw again.
        if let Ok(key) = PrivateKey::from_bytes(bytes, Network::Mainnet, true) {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// The JSON body, fields in the order the seed's client writes them.
#[derive(Serialize)]
struct Body<'a> {
    endpoint: &'a str,
    timestamp: u64,
    message: &'a str,
    pubkey: &'a str,
    signature: &'a str,
}

/// The JSON body of request `index` of the set `spec`, signed by `key`.
///
/// # Errors
/// Only if BRC-77 signing fails (a derived key out of range, probability
/// about 2^-128).
pub(crate) fn body(spec: &RequestSpec, key: &PrivateKey, index: u64) -> anyhow::Result<Vec<u8>> {
    let endpoint = format!("{}/{index}", spec.endpoint_prefix);
    let timestamp_ms = spec.timestamp_of(index);
    let statement = match spec.form {
        FormArg::Compat => TokenMessage::compat(&endpoint, timestamp_ms),
        FormArg::Bound => TokenMessage::bound(&spec.issuer, &endpoint, timestamp_ms),
    };
    let message = statement.to_message();
    let signature = match spec.scheme {
        SchemeArg::Bsm => STANDARD.encode(bsm::sign(message.as_bytes(), key).to_bytes()),
        SchemeArg::Brc77 => {
            // A distinct keyID per request, as @bsv/sdk draws one at random.
            let key_id = sha256(endpoint.as_bytes());
            let envelope =
                brc77::sign(message.as_bytes(), key, key_id).context("BRC-77 signing failed")?;
            STANDARD.encode(envelope)
        }
    };
    let pubkey = key.public_key().to_hex();
    let body = Body {
        endpoint: &endpoint,
        timestamp: timestamp_ms,
        message: &message,
        pubkey: &pubkey,
        signature: &signature,
    };
    Ok(serde_json::to_vec(&body)?)
}

/// Request bodies (or header values: [`crate::load::Carry`]) stored end to
/// end in one buffer; handing one out is a reference-counted slice, not a
/// copy.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bodies {
    arena: Bytes,
    /// `ends[i]` is where body `i` ends in `arena`.
    ends: Vec<usize>,
}

impl Bodies {
    /// The items in order, copied end to end into one buffer.
    pub(crate) fn from_items<T: AsRef<[u8]>>(items: impl IntoIterator<Item = T>) -> Self {
        let mut arena = BytesMut::new();
        let mut ends = Vec::new();
        for item in items {
            arena.extend_from_slice(item.as_ref());
            ends.push(arena.len());
        }
        Self {
            arena: arena.freeze(),
            ends,
        }
    }

    /// How many bodies.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Body `index`, if there is one.
    pub(crate) fn get(&self, index: usize) -> Option<Bytes> {
        let end = *self.ends.get(index)?;
        let start = index
            .checked_sub(1)
            .and_then(|i| self.ends.get(i))
            .copied()
            .unwrap_or(0);
        Some(self.arena.slice(start..end))
    }

    /// Bytes held.
    pub(crate) fn total_bytes(&self) -> usize {
        self.arena.len()
    }
}

/// Makes `count` requests of `spec` signed by `keys` in turn, on `threads`
/// threads.
///
/// # Errors
/// When `keys` is empty or signing fails.
pub(crate) fn generate(
    spec: &RequestSpec,
    keys: &[PrivateKey],
    count: usize,
    threads: usize,
) -> anyhow::Result<Bodies> {
    anyhow::ensure!(!keys.is_empty(), "at least one key is needed");
    let threads = threads.clamp(1, count.max(1));
    let chunk = count.div_ceil(threads);
    let parts = thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let range = (t * chunk).min(count)..((t + 1) * chunk).min(count);
                scope.spawn(move || -> anyhow::Result<(Vec<u8>, Vec<usize>)> {
                    let mut arena = Vec::with_capacity(range.len() * 400);
                    let mut lens = Vec::with_capacity(range.len());
                    for index in range {
                        let bytes = body(spec, &keys[index % keys.len()], index as u64)?;
                        lens.push(bytes.len());
                        arena.extend_from_slice(&bytes);
                    }
                    Ok((arena, lens))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow::anyhow!("a generator thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let total: usize = parts.iter().map(|(arena, _)| arena.len()).sum();
    let mut arena = BytesMut::with_capacity(total);
    let mut ends = Vec::with_capacity(count);
    for (part, lens) in parts {
        let mut end = arena.len();
        for len in lens {
            end += len;
            ends.push(end);
        }
        arena.extend_from_slice(&part);
    }
    Ok(Bodies {
        arena: arena.freeze(),
        ends,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::ceiling::{ENDPOINT_HOST, ServerWork, now_ms};

    fn spec(scheme: SchemeArg, form: FormArg) -> RequestSpec {
        RequestSpec {
            scheme,
            form,
            issuer: "http://127.0.0.1:1911".into(),
            endpoint_prefix: format!("{ENDPOINT_HOST}/test"),
            timestamp_ms: now_ms(),
            spacing_ns: 250_000, // four requests a millisecond
        }
    }

    #[test]
    fn signed_timestamps_advance_by_the_spacing() {
        let spec = RequestSpec {
            timestamp_ms: 1_700_000_000_000,
            ..spec(SchemeArg::Bsm, FormArg::Compat)
        };
        let stamps: Vec<u64> = (0..9)
            .map(|i| spec.timestamp_of(i) - spec.timestamp_ms)
            .collect();
        assert_eq!(stamps, [0, 0, 0, 0, 1, 1, 1, 1, 2]);
        let still = RequestSpec {
            spacing_ns: 0,
            ..spec.clone()
        };
        assert_eq!(still.timestamp_of(1_000_000), spec.timestamp_ms);
    }

    #[test]
    fn generated_requests_are_valid_distinct_statements() {
        let work = ServerWork::new("http://127.0.0.1:1911").unwrap();
        let keys = random_keys(3).unwrap();
        for scheme in [SchemeArg::Bsm, SchemeArg::Brc77] {
            for form in [FormArg::Compat, FormArg::Bound] {
                let spec = spec(scheme, form);
                // 3 threads over 10 requests: uneven chunks, order kept.
                let bodies = generate(&spec, &keys, 10, 3).unwrap();
                assert_eq!(bodies.len(), 10);
                assert!(bodies.get(10).is_none());
                let mut replay_keys = HashSet::new();
                for i in 0..bodies.len() {
                    let body = bodies.get(i).unwrap();
                    let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    assert_eq!(
                        value["endpoint"],
                        format!("{}/{i}", spec.endpoint_prefix),
                        "body {i} out of order"
                    );
                    assert_eq!(value["pubkey"], keys[i % 3].public_key().to_hex());
                    assert_eq!(value["timestamp"], spec.timestamp_of(i as u64));
                    let handled = work
                        .handle(&body)
                        .unwrap_or_else(|e| panic!("{scheme:?} {form:?} #{i}: {e}"));
                    assert!(replay_keys.insert(handled.replay_key), "#{i} is a replay");
                }
                let total: usize = (0..10).map(|i| bodies.get(i).unwrap().len()).sum();
                assert_eq!(total, bodies.total_bytes());
            }
        }
    }

    #[test]
    fn the_scheme_is_the_one_asked_for() {
        let key = &random_keys(1).unwrap()[0];
        for (scheme, want) in [
            (SchemeArg::Bsm, sigil_core::Scheme::Bsm),
            (SchemeArg::Brc77, sigil_core::Scheme::Brc77),
        ] {
            let body = body(&spec(scheme, FormArg::Compat), key, 0).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let signature =
                sigil_core::Signature::from_text(value["signature"].as_str().unwrap()).unwrap();
            assert_eq!(signature.scheme(), want);
        }
    }

    #[test]
    fn no_keys_no_requests() {
        assert!(generate(&spec(SchemeArg::Bsm, FormArg::Compat), &[], 1, 1).is_err());
    }
}
