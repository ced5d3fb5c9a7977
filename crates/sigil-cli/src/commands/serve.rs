//! `sigil serve`: load the layered configuration, then run the server until
//! SIGINT or SIGTERM.

use std::io::IsTerminal as _;

use anyhow::Context as _;
use sigil_server::{Config, MasterKey, Overrides, Switch};

use crate::cli::{LogFormat, ServeArgs, SwitchArg};
use crate::output;

/// The flags that were given, as the configuration's last layer.
fn overrides(args: &ServeArgs) -> Overrides {
    Overrides {
        listen: args.listen.clone(),
        issuer: args.issuer.clone(),
        database: args.database.clone(),
        redis: args.redis.clone(),
        payload_hosts: args.payload_hosts.clone(),
        rate_limits: args.rate_limits.map(|s| match s {
            SwitchArg::On => Switch::On,
            SwitchArg::Off => Switch::Off,
        }),
    }
}

/// Runs `sigil serve`.
///
/// # Errors
/// A bad configuration (one line naming the key), a master key that cannot
/// be used, or a server that cannot start.
pub(crate) fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(args.config.as_deref(), &overrides(args))?;
    if args.print_config {
        config.validate()?;
        if args.json {
            return output::json(&config);
        }
        let text = config.to_toml()?;
        return output::line(&format!(
            "# sigil serve: the effective configuration (defaults, sigil.toml, SIGIL_*, flags).\n# Every key is documented in crates/sigil-server/sigil.example.toml.\n{}",
            text.trim_end()
        ));
    }
    let settings = config.validate()?;
    let master = MasterKey::from_env().context("master key")?;
    init_tracing(args.log_format);
    // On one CPU (e.g. `taskset -c 0`) a work-stealing runtime only adds
    // cross-thread synchronisation: run every task on this thread.
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = if one_cpu {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = sigil_edge::bind(settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        sigil_server::run(settings, master, listener, sigil_server::shutdown_signal())
            .await
            .context("sigil serve")
    })
}

/// Logs to standard error; the level comes from RUST_LOG (default `info`).
pub(crate) fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
