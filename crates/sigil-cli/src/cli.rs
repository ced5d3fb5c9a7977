//! The command-line surface (clap derive types). Behaviour lives in
//! [`crate::commands`].

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use sigil_core::Scheme;
use sigil_core::auth_token::BodyEncoding;

/// Keys, signatures and X-Auth-Tokens for people who hold Bitcoin keys.
///
/// Exit codes: 0 ok, 1 verification failed, 2 usage or input error.
/// Private keys (WIF) are read from --wif-file PATH, else the SIGIL_WIF
/// environment variable, else the first line of standard input; never from
/// a flag's value.
#[derive(Debug, Parser)]
#[command(name = "sigil", version)]
pub(crate) struct Cli {
    /// Machine-readable output: one JSON object on standard output.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the token service (docs/protocol.md §3-§5): token-for-endpoint, JWKS,
    /// discovery, userinfo, health, metrics, OpenAPI.
    ///
    /// Configuration layers: defaults, then sigil.toml (or --config), then
    /// SIGIL_* environment variables, then these flags. Every sigil.toml key
    /// is also a SIGIL_ variable (upper case, `__` between nested keys, e.g.
    /// SIGIL_TOKEN_LIFETIME_S, SIGIL_RATE_LIMIT__PER_KEY__BURST; the list:
    /// `sigil serve --print-config`). The master key that
    /// encrypts signing keys at rest comes from SIGIL_MASTER_KEY or
    /// SIGIL_MASTER_KEY_FILE, never from a flag.
    Serve(ServeArgs),
    /// List, rotate or seal the token-signing keys (docs/protocol.md §12, §13).
    Keys(KeysArgs),
    /// Manage the account registry (docs/protocol.md §9).
    Accounts(AccountsArgs),
    /// Manage the OAuth provider's clients: the apps that may offer "Sign
    /// in with sigil" (docs/protocol.md §17).
    Clients(ClientsArgs),
    /// Generate a random private key and print its WIF, public key,
    /// addresses and bap_id.
    ///
    /// The bap_id printed is this key's BAP identity only if the key is used
    /// as a BAP member (root) key; keys derived from a member key do not hash
    /// to their identity's bap_id.
    Keygen(KeygenArgs),
    /// Sign a message with a Bitcoin Signed Message (BSM) or BRC-77
    /// signature; prints it as base64.
    Sign(SignArgs),
    /// Verify a BSM or BRC-77 signature against a public key or (BSM only)
    /// an address.
    Verify(VerifyArgs),
    /// Build a bitcoin-auth X-Auth-Token header value for a request.
    AuthToken(AuthTokenArgs),
    /// Sign or verify Signup payloads (docs/protocol.md §11).
    Payload(PayloadArgs),
    /// Obtain an access token for an endpoint from a sigil server and print it.
    Token(TokenArgs),
    /// Call a URL with a sigil token (optionally a signed request) and print
    /// the answer's body. Exit 0 for a 2xx answer, 1 otherwise.
    Call(CallArgs),
    /// Verify a token against its issuer's JWKS and print its header and
    /// claims. Exit 1 when it does not verify.
    Inspect(InspectArgs),
}

/// Which sigil server to ask, and how to sign for it.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// The sigil server's base URL; its discovery document names the issuer
    /// and the token endpoint.
    #[arg(
        long,
        env = "SIGIL_SERVER",
        value_name = "URL",
        default_value = "http://localhost:1911"
    )]
    pub(crate) server: String,

    /// Signature scheme of the token request (and of a signed request).
    #[arg(long, value_enum, default_value_t = SchemeArg::Bsm)]
    pub(crate) scheme: SchemeArg,

    /// Sign the compat `endpoint:timestamp` message instead of the
    /// issuer-bound form (for servers older than sigil).
    #[arg(long)]
    pub(crate) compat: bool,

    /// Where the private key comes from.
    #[command(flatten)]
    pub(crate) key: KeySource,
}

/// `sigil token`.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// The endpoint (absolute URL) the token is for: its `aud`.
    #[arg(long, value_name = "URL")]
    pub(crate) endpoint: String,

    /// The server and the key.
    #[command(flatten)]
    pub(crate) server: ServerArgs,
}

/// `sigil call`.
#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    /// The URL to call.
    pub(crate) url: String,

    /// HTTP method [default: GET, or POST with --data].
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub(crate) method: Option<String>,

    /// The request body; `@PATH` reads it from a file.
    #[arg(
        short = 'd',
        long = "data",
        value_name = "BODY",
        allow_hyphen_values = true
    )]
    pub(crate) data: Option<String>,

    /// Extra header, `Name: value`; repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub(crate) headers: Vec<String>,

    /// Also sign the request (docs/protocol.md §6: X-Timestamp, X-Body-Hash,
    /// X-Signature with the token's key).
    #[arg(long)]
    pub(crate) sign_request: bool,

    /// The token's audience [default: the URL without query or fragment].
    #[arg(long, value_name = "URL")]
    pub(crate) audience: Option<String>,

    /// The server and the key.
    #[command(flatten)]
    pub(crate) server: ServerArgs,
}

/// `sigil inspect`.
#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// The token (compact JWS); `-` reads it from standard input.
    pub(crate) token: String,

    /// The sigil server whose JWKS must have signed the token (never the
    /// token's own `iss`: nothing is fetched because a token says so).
    #[arg(
        long,
        env = "SIGIL_SERVER",
        value_name = "URL",
        default_value = "http://localhost:1911"
    )]
    pub(crate) server: String,

    /// The audience to require [default: the token's own `aud`, printed].
    #[arg(long, value_name = "URL")]
    pub(crate) audience: Option<String>,
}

/// `sigil serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The configuration file (default: ./sigil.toml when it exists).
    #[arg(long, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Address and port to listen on [default: 127.0.0.1:1911] [env: SIGIL_LISTEN].
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<String>,
    /// Issuer URL, the tokens' `iss` [default: http://localhost:1911]
    /// [env: SIGIL_ISSUER].
    #[arg(long, value_name = "URL")]
    pub(crate) issuer: Option<String>,
    /// Store URL [default: sqlite://sigil.db] [env: SIGIL_DATABASE].
    #[arg(long, value_name = "URL")]
    pub(crate) database: Option<String>,
    /// Redis beside the database (redis://host:port/DB; no rediss://) for
    /// the replay records and rate limits every instance shares; keys
    /// under `redis_prefix` (SIGIL_REDIS_PREFIX, default sigil:)
    /// [env: SIGIL_REDIS].
    #[arg(long, value_name = "URL")]
    pub(crate) redis: Option<String>,
    /// Allowed `requestedBy` hosts of signed payloads, comma-separated
    /// [default: the issuer's host:port] [env: SIGIL_PAYLOAD_HOSTS].
    #[arg(long, value_name = "H1,H2", value_delimiter = ',')]
    pub(crate) payload_hosts: Option<Vec<String>>,
    /// Rate limits on or off (off is for benchmarks and tests) [default: on]
    /// [env: SIGIL_RATE_LIMITS].
    #[arg(long, value_enum, value_name = "on|off")]
    pub(crate) rate_limits: Option<SwitchArg>,
    /// Print the effective configuration as TOML (with --json: one JSON
    /// object) and exit.
    #[arg(long)]
    pub(crate) print_config: bool,
    /// The global --json, seen by `serve` (clap propagates it here).
    #[arg(long, global = true, hide = true)]
    pub(crate) json: bool,
    /// Log format on standard error (level from RUST_LOG, default info).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub(crate) log_format: LogFormat,
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SwitchArg {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Which store a maintenance command works on: the same layers as `serve`
/// (sigil.toml or --config, SIGIL_DATABASE, --database).
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The configuration file (default: ./sigil.toml when it exists).
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Store URL [default: sqlite://sigil.db].
    #[arg(long, value_name = "URL", global = true)]
    pub(crate) database: Option<String>,
}

/// `sigil keys`.
#[derive(Debug, Args)]
pub(crate) struct KeysArgs {
    /// Which store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: KeysCommand,
}

/// `sigil keys …`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Show every signing key: kid, state, created, retires-at.
    List,
    /// Make a new current key; the old one keeps verifying (stays in the
    /// JWKS) until every token it signed has expired. Running servers pick
    /// it up within their reload interval (5 s by default).
    ///
    /// The new key is encrypted with SIGIL_MASTER_KEY exactly when the
    /// stored keys are: a plain key is never written beside encrypted ones,
    /// nor an encrypted one beside plain ones (run `sigil keys seal` first).
    Rotate,
    /// Encrypt every stored private key that is still plain with the master
    /// key (SIGIL_MASTER_KEY or SIGIL_MASTER_KEY_FILE), in one step: what
    /// turning the master key on for an existing store takes. Stop the
    /// servers first and restart them with the master key.
    Seal,
}

/// `sigil accounts`.
#[derive(Debug, Args)]
pub(crate) struct AccountsArgs {
    /// Which store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: AccountsCommand,
}

/// `sigil accounts …`.
#[derive(Debug, Subcommand)]
pub(crate) enum AccountsCommand {
    /// Register a public key: its tokens carry the name and bap_id given.
    Add(AccountAddArgs),
    /// Show every account.
    List,
    /// Revoke an account: its key gets no more tokens.
    Revoke {
        /// The account's public key, hex.
        pubkey: String,
    },
    /// Lift an account's revocation: its key gets tokens again.
    Unrevoke {
        /// The account's public key, hex.
        pubkey: String,
    },
    /// Change an account's name, bap_id or audiences (the fields given;
    /// the others are kept). A revoked account stays revoked.
    Update(AccountUpdateArgs),
    /// Delete an account. Its key is then an unregistered key: with
    /// open_registration = true (the default) it gets tokens again, without
    /// name or bap_id; use `revoke` to refuse it.
    Remove {
        /// The account's public key, hex.
        pubkey: String,
    },
}

/// `sigil accounts update`.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("change")
        .required(true)
        .multiple(true)
        .args(["name", "clear_name", "bap_id", "clear_bap_id", "audiences", "any_audience"])
))]
pub(crate) struct AccountUpdateArgs {
    /// The account's public key, hex.
    pub(crate) pubkey: String,
    /// The new `name` claim.
    #[arg(long, conflicts_with = "clear_name")]
    pub(crate) name: Option<String>,
    /// Remove the `name`.
    #[arg(long)]
    pub(crate) clear_name: bool,
    /// The new `bap_id` claim.
    #[arg(long = "bap-id", value_name = "ID", conflicts_with = "clear_bap_id")]
    pub(crate) bap_id: Option<String>,
    /// Remove the `bap_id`.
    #[arg(long = "clear-bap-id")]
    pub(crate) clear_bap_id: bool,
    /// The endpoint URL prefixes this key may get tokens for, replacing the
    /// old list (repeatable).
    #[arg(
        long = "audience",
        value_name = "URL-PREFIX",
        conflicts_with = "any_audience"
    )]
    pub(crate) audiences: Vec<String>,
    /// Remove every audience prefix: any endpoint.
    #[arg(long)]
    pub(crate) any_audience: bool,
}

/// `sigil accounts add`.
#[derive(Debug, Args)]
pub(crate) struct AccountAddArgs {
    /// The public key, hex SEC1 (66 or 130 characters).
    pub(crate) pubkey: String,
    /// The tokens' `name` claim.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// The tokens' `bap_id` claim (the BAP identity this key acts for).
    #[arg(long = "bap-id", value_name = "ID")]
    pub(crate) bap_id: Option<String>,
    /// An endpoint URL prefix this key may get tokens for (repeatable;
    /// none: any endpoint).
    #[arg(long = "audience", value_name = "URL-PREFIX")]
    pub(crate) audiences: Vec<String>,
}

/// `sigil clients`.
#[derive(Debug, Args)]
pub(crate) struct ClientsArgs {
    /// Which store.
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: ClientsCommand,
}

/// `sigil clients …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ClientsCommand {
    /// Register an app. A client_secret_basic or client_secret_post
    /// client gets a generated secret, printed this once: only its hash is
    /// stored.
    Add(ClientAddArgs),
    /// Show every client (never a secret).
    List,
    /// Show one client (never its secret).
    Show {
        /// The client's id.
        client_id: String,
    },
    /// Delete a client: its consents are forgotten and every token issued
    /// to it (refresh tokens, and access tokens at /userinfo) stops
    /// working.
    Remove {
        /// The client's id.
        client_id: String,
    },
}

/// `sigil clients add`.
#[derive(Debug, Args)]
pub(crate) struct ClientAddArgs {
    /// The name the consent screen shows.
    #[arg(long, value_name = "NAME")]
    pub(crate) name: String,
    /// A redirect URI, exactly as the app will send it (https, or http on
    /// 127.0.0.1, `[::1]` or localhost); repeatable.
    #[arg(long = "redirect-uri", value_name = "URI", required = true, num_args = 1..)]
    pub(crate) redirect_uris: Vec<String>,
    /// How the app authenticates at the token endpoint.
    #[arg(long, value_enum, value_name = "METHOD", default_value_t = AuthArg::None)]
    pub(crate) auth: AuthArg,
    /// The app's public keys for private_key_jwt: a JWKS file
    /// (`{"keys": […]}`) or one JWK (EC P-256, ES256).
    #[arg(long, value_name = "FILE", required_if_eq("auth", "private_key_jwt"))]
    pub(crate) jwks: Option<PathBuf>,
    /// The app's Bitcoin public key (compressed, hex) for
    /// bitcoin_auth_token: its X-Auth-Tokens must be signed by it.
    #[arg(long, value_name = "HEX", required_if_eq("auth", "bitcoin_auth_token"))]
    pub(crate) pubkey: Option<String>,
    /// The scopes the app may ask for (openid, profile, offline_access;
    /// repeatable or space-separated) [default: any].
    #[arg(long = "scope", value_name = "SCOPE")]
    pub(crate) scopes: Vec<String>,
    /// A grant type it may use besides authorization_code: give
    /// `--grant-type refresh_token` for refresh tokens (repeatable).
    #[arg(long = "grant-type", value_enum, value_name = "GRANT")]
    pub(crate) grant_types: Vec<GrantArg>,
    /// The client id [default: 256 random bits, base64url].
    #[arg(long = "client-id", value_name = "ID")]
    pub(crate) client_id: Option<String>,
}

/// `--auth`: a token endpoint authentication method (docs/protocol.md §17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AuthArg {
    /// A public app (in a browser or on a device): PKCE only.
    #[value(name = "none")]
    None,
    /// The generated secret in `Authorization: Basic`.
    #[value(name = "client_secret_basic")]
    ClientSecretBasic,
    /// The generated secret as `client_secret` in the form.
    #[value(name = "client_secret_post")]
    ClientSecretPost,
    /// An ES256 assertion by a key of --jwks (RFC 7523).
    #[value(name = "private_key_jwt")]
    PrivateKeyJwt,
    /// An X-Auth-Token by --pubkey over the request.
    #[value(name = "bitcoin_auth_token")]
    BitcoinAuthToken,
}

/// `--grant-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GrantArg {
    /// The code flow (always allowed).
    #[value(name = "authorization_code")]
    AuthorizationCode,
    /// Refresh tokens, rotated on every use.
    #[value(name = "refresh_token")]
    RefreshToken,
}

/// `sigil keygen`.
#[derive(Debug, Args)]
pub(crate) struct KeygenArgs {
    /// Make a testnet key (WIF prefix 0xEF, addresses m…/n… and bchtest:).
    #[arg(long)]
    pub(crate) testnet: bool,

    /// Write the output (it holds the WIF) to this new file, readable by
    /// you only (mode 0600), instead of standard output. An existing file
    /// is never overwritten.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// Where the private key comes from. The WIF itself is never a flag value.
#[derive(Debug, Args)]
pub(crate) struct KeySource {
    /// Read the WIF from this file: a bare WIF on its first line, or what
    /// `sigil keygen [--json] [--out FILE]` writes. Without it: the
    /// SIGIL_WIF environment variable, else the first line of standard input.
    #[arg(long, value_name = "PATH")]
    pub(crate) wif_file: Option<PathBuf>,

    /// Refused with an explanation: a WIF given as a flag value leaks into
    /// shell history and process listings.
    #[arg(
        long = "wif",
        hide = true,
        value_name = "WIF",
        allow_hyphen_values = true
    )]
    pub(crate) refused_wif_flag: Option<String>,
}

/// `sigil sign`.
#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    /// Signature scheme. BSM signs with the key's compression (header 31-34
    /// for a compressed WIF); BRC-77 uses a random keyID.
    #[arg(long, value_enum, default_value_t = SchemeArg::Bsm)]
    pub(crate) scheme: SchemeArg,

    /// Where the private key comes from.
    #[command(flatten)]
    pub(crate) key: KeySource,

    /// The message, signed as its UTF-8 bytes (put `--` before a message
    /// that starts with '-').
    pub(crate) message: String,
}

/// `sigil verify`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("signer").required(true).args(["pubkey", "address"])))]
pub(crate) struct VerifyArgs {
    /// The claimed signer's public key, hex SEC1 (66 or 130 characters).
    #[arg(long, value_name = "HEX")]
    pub(crate) pubkey: Option<String>,

    /// The claimed signer's address (legacy, cashaddr or bech32; BSM
    /// signatures only: a BRC-77 signature needs --pubkey).
    #[arg(long, value_name = "ADDR")]
    pub(crate) address: Option<String>,

    /// The signature: base64, hex, a JSON byte array or comma-separated
    /// decimal bytes; the scheme is recognised from the bytes.
    #[arg(long, value_name = "SIG", allow_hyphen_values = true)]
    pub(crate) signature: String,

    /// Expect a testnet --address (default: mainnet).
    #[arg(long)]
    pub(crate) testnet: bool,

    /// The message that was signed, as UTF-8 bytes.
    pub(crate) message: String,
}

/// `sigil auth-token`.
#[derive(Debug, Args)]
pub(crate) struct AuthTokenArgs {
    /// The request path and query the token is for (starts with '/').
    #[arg(long, value_name = "P")]
    pub(crate) path: String,

    /// The request body, if any (its bytes are hashed into the token).
    #[arg(long, value_name = "B", allow_hyphen_values = true)]
    pub(crate) body: Option<String>,

    /// How the body text becomes the bytes that are hashed.
    #[arg(long, value_enum, default_value_t = BodyEncodingArg::Utf8)]
    pub(crate) body_encoding: BodyEncodingArg,

    /// Signature scheme (brc77 is the bitcoin-auth library's default).
    #[arg(long, value_enum, default_value_t = SchemeArg::Brc77)]
    pub(crate) scheme: SchemeArg,

    /// Where the private key comes from.
    #[command(flatten)]
    pub(crate) key: KeySource,
}

/// `sigil payload`.
#[derive(Debug, Args)]
pub(crate) struct PayloadArgs {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: PayloadCommand,
}

/// `sigil payload …`.
#[derive(Debug, Subcommand)]
pub(crate) enum PayloadCommand {
    /// Sign `{signedBy, requestedBy, data, timestamp}` as the Signup wallet
    /// does (JSON.stringify, then BSM with the compressed key); prints
    /// `{payload, address, signature}` with a CashAddr address.
    Sign(PayloadSignArgs),
    /// Verify a signed payload: the signature by the address over the exact
    /// bytes of the file, the four keys, requestedBy and the ±300 s window.
    /// Replays are not checked: the CLI keeps no store (the server does).
    Verify(PayloadVerifyArgs),
}

/// `sigil payload sign`.
#[derive(Debug, Args)]
pub(crate) struct PayloadSignArgs {
    /// The host (and port) of the app asking for the signature.
    #[arg(long, value_name = "HOST")]
    pub(crate) requested_by: String,

    /// The app's data, a JSON value (its key order is kept, as JSON.parse
    /// keeps it).
    #[arg(long, value_name = "JSON", allow_hyphen_values = true)]
    pub(crate) data: String,

    /// The wallet's name.
    #[arg(long, value_name = "NAME", default_value = "Signup.cash")]
    pub(crate) signed_by: String,

    /// Signing time, ms since the epoch [default: now].
    #[arg(long, value_name = "MS")]
    pub(crate) timestamp: Option<u64>,

    /// Where the private key comes from.
    #[command(flatten)]
    pub(crate) key: KeySource,
}

/// `sigil payload verify`.
#[derive(Debug, Args)]
pub(crate) struct PayloadVerifyArgs {
    /// The file (`-` for standard input) holding what `sigil payload sign`
    /// prints, or what the server's /api/payloads/verify takes: one JSON
    /// object `{payload, address, signature}`, `payload` the exact signed
    /// text. Instead of --payload-file, --address and --signature.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["payload_file", "address", "signature"]
    )]
    pub(crate) from_file: Option<PathBuf>,

    /// The file holding the exact signed text (`-` for standard input).
    /// Trailing whitespace, such as the newline an editor adds, is ignored:
    /// a payload ends with `}`.
    #[arg(long, value_name = "FILE", required_unless_present = "from_file")]
    pub(crate) payload_file: Option<PathBuf>,

    /// The signer's CashAddr or legacy P2PKH address.
    #[arg(long, value_name = "ADDR", required_unless_present = "from_file")]
    pub(crate) address: Option<String>,

    /// The BSM signature: base64, hex or a JSON byte array.
    #[arg(
        long,
        value_name = "SIG",
        allow_hyphen_values = true,
        required_unless_present = "from_file"
    )]
    pub(crate) signature: Option<String>,

    /// Allowed requestedBy host; repeat for several. Without it the
    /// payload's own requestedBy is accepted, and printed for you to check.
    #[arg(long = "requested-by", value_name = "HOST")]
    pub(crate) requested_by: Vec<String>,

    /// Verify as of this time, ms since the epoch [default: now].
    #[arg(long, value_name = "MS")]
    pub(crate) at: Option<u64>,
}

/// A signature scheme on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SchemeArg {
    /// Bitcoin Signed Message (65 bytes, BIP-137 header).
    Bsm,
    /// BRC-77 signed message ("anyone" envelope of @bsv/sdk).
    Brc77,
}

impl From<SchemeArg> for Scheme {
    fn from(arg: SchemeArg) -> Self {
        match arg {
            SchemeArg::Bsm => Self::Bsm,
            SchemeArg::Brc77 => Self::Brc77,
        }
    }
}

/// A body encoding on the command line (bitcoin-auth's `bodyEncoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BodyEncodingArg {
    /// The body text's UTF-8 bytes.
    Utf8,
    /// The body text is hex; its decoded bytes are hashed.
    Hex,
    /// The body text is standard base64; its decoded bytes are hashed.
    Base64,
}

impl From<BodyEncodingArg> for BodyEncoding {
    fn from(arg: BodyEncodingArg) -> Self {
        match arg {
            BodyEncodingArg::Utf8 => Self::Utf8,
            BodyEncodingArg::Hex => Self::Hex,
            BodyEncodingArg::Base64 => Self::Base64,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
