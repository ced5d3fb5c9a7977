//! sigil's OAuth 2.0 / OpenID Connect rules (docs/protocol.md §17), with
//! no HTTP, no clock and no I/O: time and randomness are parameters, and
//! the store's atomic steps (consume a code, swap a refresh token) are
//! described by the records they act on. sigil-server's handlers parse the
//! request, call these functions and store what they decide.
//!
//! - [`authorize`]: the authorization request: error page or redirect,
//!   PKCE S256 required, scopes, `prompt`, `max_age`, `resource`, `bap_id`.
//! - [`redirect`]: registering redirect URIs, exact matching (any port on a
//!   loopback IP literal), the authorization response with `iss`.
//! - [`pkce`]: S256 challenges and verifiers (RFC 7636).
//! - [`client`]: registered clients, secrets (hashed, compared in constant
//!   time), dynamic registration (RFC 7591).
//! - [`token`]: the token endpoint's form, its grant and the client
//!   credentials it carries.
//! - [`client_auth`]: client authentication by the registered method
//!   (secrets, `private_key_jwt`, `bitcoin_auth_token`).
//! - [`grant`]: the code and refresh-family state machines.
//! - [`login`]: the `sigil-login:v1` challenge and its BSM signature.
//! - [`claims`]: the id_token's claims and the access token's audience.
//! - [`scope`]: `openid`, `profile`, `offline_access`.
//! - [`error`]: the OAuth error codes.

pub mod authorize;
pub mod claims;
pub mod client;
pub mod client_auth;
pub mod error;
pub mod grant;
pub mod login;
pub mod pkce;
pub mod redirect;
pub mod scope;
pub mod token;

pub use client::{AuthMethod, GrantType, RegisteredClient, SecretHash};
pub use error::{OAuthError, OAuthErrorCode, Result};
pub use scope::{Scope, Scopes};
