//! The account registry as the server sees it (docs/protocol.md §9): a snapshot of the
//! store's accounts, re-read every `reload_interval`, and the policy that
//! admits or refuses a key for an endpoint.

use std::collections::HashMap;

use sigil_core::PublicKey;
use sigil_core::jwt::matches_at_path_boundary;
use sigil_store::{Account, AccountStore};

use crate::error::ApiError;

/// Every account, by compressed public key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Registry {
    accounts: HashMap<[u8; 33], Account>,
}

impl Registry {
    /// Reads every account from the store.
    ///
    /// # Errors
    ///
    /// When the store cannot answer.
    pub(crate) async fn load(store: &dyn AccountStore) -> Result<Self, sigil_store::Error> {
        let accounts = store
            .list_accounts()
            .await?
            .into_iter()
            .map(|a| (a.pubkey.serialize(), a))
            .collect();
        Ok(Self { accounts })
    }

    /// The account of `key`, revoked or not.
    #[must_use]
    pub(crate) fn get(&self, key: &PublicKey) -> Option<&Account> {
        self.accounts.get(&key.serialize())
    }

    /// Whether `key` may obtain a token for `endpoint`: a revoked account
    /// never; an account with audience prefixes only for endpoints under one
    /// of them; an unknown key only with open registration.
    ///
    /// # Errors
    ///
    /// [`ApiError::AccessDenied`] saying which rule refused.
    pub(crate) fn admit(
        &self,
        key: &PublicKey,
        endpoint: &str,
        open_registration: bool,
    ) -> Result<Option<&Account>, ApiError> {
        match self.get(key) {
            Some(account) if account.is_revoked() => Err(ApiError::AccessDenied(format!(
                "key {} is revoked: not allowed to obtain tokens",
                key.to_hex()
            ))),
            Some(account)
                if !account.audiences.is_empty()
                    && !account
                        .audiences
                        .iter()
                        .any(|prefix| matches_at_path_boundary(prefix, endpoint)) =>
            {
                Err(ApiError::AccessDenied(format!(
                    "key {} is not allowed to obtain tokens for endpoint {endpoint:?} (its account allows: {})",
                    key.to_hex(),
                    account.audiences.join(", ")
                )))
            }
            Some(account) => Ok(Some(account)),
            None if open_registration => Ok(None),
            None => Err(ApiError::AccessDenied(format!(
                "key {} is not registered: not allowed to obtain tokens on this server (registration is closed)",
                key.to_hex()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use sigil_core::PrivateKey;

    use super::*;

    fn key(byte: u8) -> PublicKey {
        PrivateKey::from_bytes([byte; 32], sigil_core::Network::Mainnet, true)
            .unwrap()
            .public_key()
    }

    #[test]
    fn policy_table() {
        let mut registry = Registry::default();
        let mut limited = Account::new(key(1), 0);
        limited.audiences = vec!["https://api.example.com/v1".into()];
        let mut revoked = Account::new(key(2), 0);
        revoked.revoked_at_ms = Some(5);
        let plain = Account::new(key(3), 0);
        for a in [limited, revoked, plain] {
            registry.accounts.insert(a.pubkey.serialize(), a);
        }
        let cases = [
            (
                "limited, inside",
                key(1),
                "https://api.example.com/v1/x",
                true,
                true,
            ),
            (
                "limited, exact",
                key(1),
                "https://api.example.com/v1",
                true,
                true,
            ),
            (
                "limited, outside",
                key(1),
                "https://api.example.com/v10",
                true,
                false,
            ),
            ("revoked, open", key(2), "https://a.example", true, false),
            ("plain, closed", key(3), "https://a.example", false, true),
            ("unknown, open", key(4), "https://a.example", true, true),
            ("unknown, closed", key(4), "https://a.example", false, false),
        ];
        for (name, k, endpoint, open, allowed) in cases {
            let result = registry.admit(&k, endpoint, open);
            assert_eq!(result.is_ok(), allowed, "{name}");
            if let Err(e) = result {
                assert_eq!(e.code(), sigil_core::api::ErrorCode::AccessDenied, "{name}");
            }
        }
    }
}
