//! Exit codes (docs/protocol.md §14) and how an error maps onto them.

/// Success.
pub(crate) const OK: u8 = 0;
/// The input was well-formed but a signature (or its timestamp) did not verify.
pub(crate) const VERIFICATION_FAILED: u8 = 1;
/// Usage or input error: malformed input, a missing key, a bad flag.
pub(crate) const USAGE: u8 = 2;
/// The server could not be reached: the connection was refused (or could
/// not be made at all).
pub(crate) const UNREACHABLE: u8 = 3;

/// A server that refused the connection (exit 3). The message asks the
/// question the user needs answered; the transport error is the source.
#[derive(Debug)]
pub(crate) struct Unreachable {
    /// The URL that was asked.
    pub(crate) url: String,
    /// The sigil server's base URL, when it was sigil that was asked;
    /// `None` for another server (the target of `sigil call`).
    pub(crate) sigil: Option<String>,
    /// The transport error.
    pub(crate) source: sigil_client::reqwest::Error,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.sigil {
            Some(base) => write!(
                f,
                "cannot connect to {}: is sigil running at {base}? (set --server or SIGIL_SERVER)",
                self.url
            ),
            None => write!(
                f,
                "cannot connect to {}: is a server running there?",
                self.url
            ),
        }
    }
}

impl std::error::Error for Unreachable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Whether a transport error means nothing answered at that address.
pub(crate) fn is_unreachable(error: &sigil_client::reqwest::Error) -> bool {
    error.is_connect()
}

/// A refusal decided elsewhere (a server's 401/403, a resource server's
/// non-2xx answer): exit 1 with this message.
#[derive(Debug)]
pub(crate) struct Refused(pub(crate) String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The exit code for `err`: [`Unreachable`] (or a connection error
/// anywhere in the chain) is 3; [`Refused`] is 1; otherwise a sigil-core
/// error anywhere in its chain decides by its class; anything else (I/O,
/// usage) is a usage or input error.
pub(crate) fn code_of(err: &anyhow::Error) -> u8 {
    let unreachable = err.chain().any(|cause| {
        cause.is::<Unreachable>()
            || cause
                .downcast_ref::<sigil_client::reqwest::Error>()
                .is_some_and(is_unreachable)
            // sigil-client's transport error is transparent: its source is
            // reqwest's cause, not reqwest's error itself.
            || matches!(
                cause.downcast_ref::<sigil_client::Error>(),
                Some(sigil_client::Error::Http(e)) if is_unreachable(e)
            )
    });
    if unreachable {
        return UNREACHABLE;
    }
    if err.chain().any(|cause| cause.is::<Refused>()) {
        return VERIFICATION_FAILED;
    }
    err.chain()
        .find_map(|cause| cause.downcast_ref::<sigil_core::Error>())
        .map_or(USAGE, |core| {
            // The one error table: a core error that a server would
            // refuse with 400 is an input error here, every other refusal
            // (401, 403) a failed verification.
            match sigil_core::api::Fault::from_core(core) {
                sigil_core::api::Fault::InvalidRequest(_) => USAGE,
                _ => VERIFICATION_FAILED,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_map_to_codes() {
        let cases = [
            (sigil_core::Error::Wif("checksum".into()), USAGE),
            (sigil_core::Error::SignatureEncoding("base64".into()), USAGE),
            (
                sigil_core::Error::SignatureInvalid("other key".into()),
                VERIFICATION_FAILED,
            ),
            (
                sigil_core::Window::SYMMETRIC_300S
                    .check(1_700_000_000_000, 1_700_000_400_000)
                    .unwrap_err(),
                VERIFICATION_FAILED,
            ),
        ];
        for (core, want) in cases {
            let name = core.to_string();
            let err = anyhow::Error::new(core).context("verify");
            assert_eq!(code_of(&err), want, "{name}");
        }
        assert_eq!(code_of(&anyhow::anyhow!("no key given")), USAGE);
        let refused = anyhow::Error::new(Refused("401".into())).context("calling");
        assert_eq!(code_of(&refused), VERIFICATION_FAILED);
        for core in sigil_core::Error::examples() {
            let want = if core.class() == sigil_core::ErrorClass::Malformed {
                USAGE
            } else {
                VERIFICATION_FAILED
            };
            let name = core.to_string();
            assert_eq!(code_of(&anyhow::Error::new(core)), want, "{name}");
        }
    }

    /// A refused connection is exit 3 with the question the user needs,
    /// and the cause printed once.
    #[tokio::test]
    async fn a_refused_connection_is_unreachable() {
        // A port nothing listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}/.well-known/openid-configuration");
        let source = sigil_client::reqwest::get(&url).await.unwrap_err();
        assert!(is_unreachable(&source), "{source}");
        let err = anyhow::Error::new(Unreachable {
            url: url.clone(),
            sigil: Some(format!("http://127.0.0.1:{port}")),
            source,
        });
        assert_eq!(code_of(&err), UNREACHABLE);
        let text = format!("{err:#}");
        assert!(
            text.starts_with(&format!(
                "cannot connect to {url}: is sigil running at http://127.0.0.1:{port}?"
            )),
            "{text}"
        );
        assert_eq!(
            text.matches(&url).count(),
            2,
            "the URL once in the question and once in reqwest's cause: {text}"
        );
        // A transport error wrapped by sigil-client is found in the chain.
        let wrapped = sigil_client::reqwest::get(&url).await.unwrap_err();
        let wrapped = anyhow::Error::new(sigil_client::Error::Http(wrapped)).context("calling");
        assert_eq!(code_of(&wrapped), UNREACHABLE);
    }
}
