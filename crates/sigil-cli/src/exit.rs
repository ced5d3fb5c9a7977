//! Exit codes (docs/protocol.md §14) and how an error maps onto them.

use sigil_core::ErrorClass;

/// Success.
pub(crate) const OK: u8 = 0;
/// The input was well-formed but a signature (or its timestamp) did not verify.
pub(crate) const VERIFICATION_FAILED: u8 = 1;
/// Usage or input error: malformed input, a missing key, a bad flag.
pub(crate) const USAGE: u8 = 2;

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

/// The exit code for `err`: [`Refused`] is 1; otherwise a sigil-core error
/// anywhere in its chain decides by its class; anything else (I/O, usage)
/// is a usage or input error.
pub(crate) fn code_of(err: &anyhow::Error) -> u8 {
    if err.chain().any(|cause| cause.is::<Refused>()) {
        return VERIFICATION_FAILED;
    }
    err.chain()
        .find_map(|cause| cause.downcast_ref::<sigil_core::Error>())
        .map_or(USAGE, |core| match core.class() {
            ErrorClass::Verification
            | ErrorClass::Timestamp
            | ErrorClass::Token
            | ErrorClass::Policy => VERIFICATION_FAILED,
            // Malformed, and any class a newer sigil-core may add.
            _ => USAGE,
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
                sigil_core::Error::TimestampTooOld("old".into()),
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
    }
}
