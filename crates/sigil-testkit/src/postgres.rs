//! [`PostgresSchema`]: a schema of its own in the test database
//! (`SIGIL_TEST_POSTGRES_URL`), for one test's stores or `sigil serve`
//! processes, dropped with everything in it when the value is dropped.

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::NoTls;
use tokio_postgres::config::Host;

/// The default test database (`scripts/test` starts it).
pub const DEFAULT_POSTGRES_URL: &str = "postgres://root@127.0.0.1:5432/test";

/// A fresh schema `sigil_test_<label>_<pid>_<n>_<ms>`; every URL it gives
/// selects it through libpq's `options=-c search_path=…`.
#[derive(Debug)]
pub struct PostgresSchema {
    base: String,
    name: String,
}

impl PostgresSchema {
    /// Creates the schema in the database of `SIGIL_TEST_POSTGRES_URL`
    /// (default [`DEFAULT_POSTGRES_URL`]). `label` is lower-case ASCII
    /// letters, digits and `_`.
    ///
    /// # Panics
    ///
    /// When PostgreSQL is unreachable (naming the variable) or refuses.
    #[must_use]
    pub fn create(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        assert!(
            label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "schema label {label:?}: lower-case letters, digits and _ only"
        );
        let base = crate::require_service(
            "PostgreSQL",
            "SIGIL_TEST_POSTGRES_URL",
            DEFAULT_POSTGRES_URL,
        );
        let name = format!(
            "sigil_test_{label}_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            crate::now_ms() % 1_000_000
        );
        let schema = Self { base, name };
        schema.execute(&format!("CREATE SCHEMA {}", schema.name));
        schema
    }

    /// The schema's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The test database's URL, without a search path.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The URL of the test database with the search path set to this
    /// schema.
    #[must_use]
    pub fn url(&self) -> String {
        with_search_path(&self.base, &self.name)
    }

    /// [`url`](Self::url) through `proxy` (a [`crate::TcpProxy`] to
    /// [`server_addr`](Self::server_addr)) instead of the server's own
    /// address.
    ///
    /// # Panics
    ///
    /// When the base URL cannot be parsed.
    #[must_use]
    pub fn url_via(&self, proxy: SocketAddr) -> String {
        let config = self.config();
        let user = config.get_user().unwrap_or("postgres");
        let dbname = config.get_dbname().unwrap_or(user);
        with_search_path(&format!("postgres://{user}@{proxy}/{dbname}"), &self.name)
    }

    /// The database server's TCP address, for a proxy in front of it.
    ///
    /// # Panics
    ///
    /// When the base URL names a Unix socket or an unresolvable host.
    #[must_use]
    pub fn server_addr(&self) -> SocketAddr {
        let config = self.config();
        let host = match &config.get_hosts()[0] {
            Host::Tcp(host) => host.clone(),
            other => panic!("a proxy needs a TCP host, not {other:?}"),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        (host.as_str(), port)
            .to_socket_addrs()
            .expect("the PostgreSQL host resolves")
            .next()
            .expect("the PostgreSQL host has an address")
    }

    /// Runs `statements` in the schema.
    ///
    /// # Panics
    ///
    /// When PostgreSQL refuses them.
    pub fn execute(&self, statements: &str) {
        let (url, sent) = (self.url(), statements.to_owned());
        on_own_runtime(async move { connect(&url).await.batch_execute(&sent).await })
            .unwrap_or_else(|e| panic!("{statements}: {e}"));
    }

    /// The one integer a query such as `SELECT count(*) FROM …` returns, run
    /// in the schema.
    ///
    /// # Panics
    ///
    /// When PostgreSQL refuses it or it returns something else.
    #[must_use]
    pub fn count(&self, query: &str) -> i64 {
        let (url, sent) = (self.url(), query.to_owned());
        on_own_runtime(async move {
            let row = connect(&url).await.query_one(&sent, &[]).await?;
            row.try_get::<_, i64>(0)
        })
        .unwrap_or_else(|e| panic!("{query}: {e}"))
    }

    fn config(&self) -> tokio_postgres::Config {
        tokio_postgres::Config::from_str(&self.base).expect("SIGIL_TEST_POSTGRES_URL parses")
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropped = on_own_runtime(async move {
            connect(&base)
                .await
                .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
                .await
        });
        if let Err(error) = dropped {
            eprintln!("could not drop test schema {}: {error}", self.name);
        }
    }
}

/// `url` with its search path set to `schema` (libpq's `options`).
#[must_use]
pub fn with_search_path(url: &str, schema: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-c%20search_path%3D{schema}")
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is unreachable (SIGIL_TEST_POSTGRES_URL): {e}"));
    tokio::spawn(connection);
    client
}

/// Runs `work` to completion on a runtime of its own in a thread of its own,
/// so that it can be called from synchronous tests and from inside another
/// runtime (a test's, or a `Drop` running in one).
fn on_own_runtime<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread runtime")
            .block_on(work)
    })
    .join()
    .expect("the PostgreSQL helper thread panicked")
}
