#![doc = include_str!("../README.md")]

mod address;
pub mod api;
pub mod auth_token;
pub mod bap;
mod base32;
mod base58;
mod bech32;
pub mod brc42;
pub mod brc77;
pub mod bsm;
pub mod cashaddr;
mod der;
mod error;
pub mod es256;
pub mod hash;
mod json;
pub mod jwks;
pub mod jws;
pub mod jwt;
mod keys;
pub mod payload;
mod replay;
pub mod signature;
pub mod signed_request;
pub mod timestamp;
pub mod token_request;
mod x509;

pub use address::{Address, AddressKind};
pub use error::{
    AuthTokenFault, Error, ErrorClass, MessageFault, PayloadFault, Result, TimestampForm,
    TokenRefusal,
};
pub use es256::{Es256SigningKey, Es256VerifyingKey};
pub use json::quoted;
pub use jwks::{Jwk, JwkSet, Jwks};
pub use keys::{Network, PrivateKey, PublicKey};
pub use replay::ReplayKey;
pub use signature::{Scheme, Signature};
pub use timestamp::Window;
pub use token_request::{
    BOUND_PREFIX, MAX_ENDPOINT_LEN, MessageForm, TokenMessage, validate_endpoint,
};
