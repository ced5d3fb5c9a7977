//! Milliseconds as the SQL backends store them (a signed 64-bit integer).

use crate::error::{Error, Result};

/// `ms` as an SQLite INTEGER (i64).
pub(crate) fn ms_to_db(ms: u64, field: &'static str) -> Result<i64> {
    i64::try_from(ms).map_err(|_| Error::InvalidArgument {
        field,
        reason: "beyond the largest storable time (i64 milliseconds)".into(),
    })
}

/// An SQLite INTEGER read back as ms.
pub(crate) fn ms_from_db(value: i64, column: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::corrupt(format!("negative time in {column}")))
}

/// An optional time read back as ms.
pub(crate) fn opt_ms_from_db(value: Option<i64>, column: &str) -> Result<Option<u64>> {
    value.map(|v| ms_from_db(v, column)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        assert_eq!(ms_to_db(1_700_000_000_000, "t"), Ok(1_700_000_000_000));
        assert_eq!(ms_to_db(i64::MAX as u64, "t"), Ok(i64::MAX));
        assert!(matches!(
            ms_to_db(i64::MAX as u64 + 1, "expires_at_ms"),
            Err(Error::InvalidArgument {
                field: "expires_at_ms",
                ..
            })
        ));
        assert_eq!(ms_from_db(5, "c"), Ok(5));
        assert!(matches!(ms_from_db(-1, "c"), Err(Error::Corrupt { .. })));
        assert_eq!(opt_ms_from_db(None, "c"), Ok(None));
    }
}
