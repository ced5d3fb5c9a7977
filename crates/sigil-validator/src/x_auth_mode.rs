//! [`XAuthTokenMode`]: which `X-Auth-Token`s a validator takes, and the
//! origins their absolute-URL form must name (docs/protocol.md §7).

use sigil_core::auth_token::Origin;
use sigil_core::jwt::Audience;

use crate::error::Error;

/// Whether and how `X-Auth-Token`s are accepted (docs/protocol.md §7):
/// `off | path | url`.
///
/// The token's signed string names a path but no host, so a token in the
/// path form is good (once) at every server with that path. Its absolute-URL
/// form, `requestPath` = the audience's origin (`scheme://host[:port]`)
/// plus the path and query, names this server only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum XAuthTokenMode {
    /// Not a credential: the header is ignored.
    Off,
    /// The path form (bitcoin-auth's own), or the absolute URL on the
    /// audience's origin (the default).
    #[default]
    Path,
    /// Only the absolute URL on the audience's origin; implied by
    /// [`ValidatorBuilder::require_signed_requests`](crate::ValidatorBuilder::require_signed_requests).
    Url,
}

impl XAuthTokenMode {
    /// `off`, `path` or `url`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Path => "path",
            Self::Url => "url",
        }
    }
}

impl std::fmt::Display for XAuthTokenMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for XAuthTokenMode {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "off" => Ok(Self::Off),
            "path" => Ok(Self::Path),
            "url" => Ok(Self::Url),
            other => Err(Error::Config(format!(
                "x_auth_token {other:?} is not off, path or url"
            ))),
        }
    }
}

/// The origins of the configured audience(s), those that are absolute
/// http(s) URLs.
pub(crate) fn audience_origins(audience: &Audience) -> Vec<Origin> {
    let urls: Vec<&String> = match audience {
        Audience::Exact(a) | Audience::PathPrefix(a) => vec![a],
        Audience::AnyOf(list) => list.iter().collect(),
    };
    let mut origins: Vec<Origin> = Vec::new();
    for origin in urls.into_iter().filter_map(|url| Origin::of_url(url).ok()) {
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    origins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_print() {
        for mode in [
            XAuthTokenMode::Off,
            XAuthTokenMode::Path,
            XAuthTokenMode::Url,
        ] {
            assert_eq!(mode.to_string().parse::<XAuthTokenMode>().unwrap(), mode);
        }
        let err = "URL".parse::<XAuthTokenMode>().unwrap_err();
        assert!(err.to_string().contains("not off, path or url"), "{err}");
        assert_eq!(XAuthTokenMode::default(), XAuthTokenMode::Path);
    }

    #[test]
    fn origins_of_the_audience() {
        let origins = |audience: Audience| {
            audience_origins(&audience)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            origins(Audience::PathPrefix("https://api.example.com/v1".into())),
            ["https://api.example.com"]
        );
        assert_eq!(
            origins(Audience::AnyOf(vec![
                "http://127.0.0.1:3000/a".into(),
                "HTTP://127.0.0.1:3000/b".into(),
                "not a url".into(),
                "https://b.example:8443".into(),
            ])),
            ["http://127.0.0.1:3000", "https://b.example:8443"]
        );
        assert!(origins(Audience::Exact("api".into())).is_empty());
    }
}
