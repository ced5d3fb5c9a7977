//! `bap_id`: plain base58 of RIPEMD160(SHA256(text of the member key's
//! mainnet P2PKH address)) (docs/protocol.md §1).
//!
//! Only a BAP member (root) key hashes to its identity's `bap_id`; the keys
//! that sign are usually derived from it and do not. sigil therefore never
//! computes a `bap_id` for a token's signer: it comes from the account
//! registry or is absent.

use crate::base58;
use crate::hash::{ripemd160, sha256};
use crate::keys::PublicKey;

/// The `bap_id` of an address text (hashed as UTF-8 text, not decoded).
#[must_use]
pub fn bap_id_of_address(address: &str) -> String {
    base58::encode(&ripemd160(&sha256(address.as_bytes())))
}

/// The `bap_id` of a BAP **member** key (its mainnet compressed P2PKH address).
#[must_use]
pub fn bap_id_of_member_key(key: &PublicKey) -> String {
    bap_id_of_address(&key.to_address().to_string())
}
