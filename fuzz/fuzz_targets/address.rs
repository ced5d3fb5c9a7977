//! Address decoding: base58 legacy, bech32 segwit and cashaddr.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::cashaddr::CashAddr;
use sigil_core::{Address, Network};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(address) = Address::parse(text) {
        // Every other spelling of an address names the same address, except
        // that base58 cannot tell regtest from testnet (one version byte).
        for other in [address.to_legacy(), address.to_cashaddr()]
            .into_iter()
            .flatten()
        {
            let again = Address::parse(&other).expect("own spelling parses");
            assert_eq!(
                (again.kind, again.hash),
                (address.kind, address.hash),
                "{other}"
            );
            let regtest_as_testnet =
                address.network == Network::Regtest && again.network == Network::Testnet;
            assert!(
                again.network == address.network || regtest_as_testnet,
                "{other}"
            );
        }
    }
    if let Ok(cash) = CashAddr::decode(text, &["bitcoincash", "bchtest"]) {
        let encoded = cash.encode();
        assert_eq!(
            CashAddr::decode(&encoded, &[])
                .expect("own encoding decodes")
                .encode(),
            encoded
        );
    }
});
