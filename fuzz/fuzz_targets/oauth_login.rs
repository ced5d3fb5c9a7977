//! The login challenge (docs/protocol.md §17): parsing the signed message,
//! recovering its signer, PKCE values and scope lists.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_oauth::Scopes;
use sigil_oauth::login::{LoginChallenge, recover_signer};
use sigil_oauth::pkce;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (message, signature) = text.split_once('\n').unwrap_or((text, ""));
    if let Ok(challenge) = LoginChallenge::parse(message) {
        assert_eq!(challenge.message(), message);
        let _ = challenge.check("https://sigil.example", 1_700_000_000_000);
    }
    let _ = recover_signer(message, signature);
    let _ = pkce::check_challenge(message);
    if pkce::check_verifier(message).is_ok() {
        assert!(pkce::verify(message, &pkce::challenge_of(message)).is_ok());
    }
    let _ = Scopes::parse(Some(message));
});
