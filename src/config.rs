//! Settings from `TOKEND_*` environment variables or the same keys in a TOML file (the
//! environment wins), validated once at start. Secrets live in types with a redacted `Debug`.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

use crate::client_ip::ClientIpSettings;
use crate::db::{BreakerOptions, DatabaseUrl, PoolOptions};
use crate::limits::LimitSettings;
use crate::tokens::kind::Prefixes;
use crate::tokens::scopes::Catalog;
use crate::tokens::secret::{Peppers, parse_pepper_list};

/// `development` (dev secrets generated on first start) or `production` (secrets required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Local use: missing secrets are generated into the data directory.
    Development,
    /// Deployed: missing secrets stop the start.
    Production,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Bytes that must never be printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The secret bytes, for the one place that keys a MAC or verifier with them.
    #[must_use]
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How session JWTs are verified.
#[derive(Debug, Clone)]
pub enum SessionKey {
    /// HS256 with a shared secret.
    Hs256(Secret),
    /// RS256/ES256/EdDSA with a PEM public key read from this file.
    PublicKeyFile(PathBuf),
}

/// The validated settings of one process.
#[derive(Debug)]
pub struct Settings {
    /// Development or production.
    pub environment: Environment,
    /// Listen address.
    pub bind: String,
    /// HTTP worker threads (each runs its own event loop).
    pub workers: usize,
    /// Where the SQLite file and dev secrets live.
    pub data_dir: PathBuf,
    /// The database and its backend.
    pub database_url: DatabaseUrl,
    /// Pool sizing.
    pub pool: PoolOptions,
    /// Server-side HMAC keys for token digests; the first is current.
    pub peppers: Peppers,
    /// Session JWT verification key.
    pub session_key: SessionKey,
    /// Required `iss` of session JWTs, when set.
    pub session_issuer: Option<String>,
    /// Required `aud` of session JWTs, when set.
    pub session_audience: Option<String>,
    /// How often usage counts are written.
    pub usage_flush_interval: Duration,
    /// Audit events older than this many days are pruned once a day (DESIGN §10, bounded
    /// storage); 0 keeps them forever.
    pub audit_retention_days: u32,
    /// Log output format.
    pub log_format: LogFormat,
    /// Token prefixes of this deployment.
    pub prefixes: Prefixes,
    /// Scope resources and presets.
    pub scope_catalog: Catalog,
    /// The verified-token cache.
    pub cache: CacheSettings,
    /// Gateways at these addresses may call forward auth without a gateway credential.
    pub forward_auth_trusted: Vec<ipnet::IpNet>,
    /// Where a request's client address comes from (trusted proxies and their header).
    pub client_ip: ClientIpSettings,
    /// tokend's own rate limits.
    pub limits: LimitSettings,
    /// After SIGTERM, how long `/readyz` answers 503 while requests are still served, before
    /// the server stops accepting and drains.
    pub shutdown_delay: Duration,
    /// Whether `/console` is served.
    pub console_enabled: bool,
}

/// Sizing of the verified-token cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Most tokens held (0 disables the cache).
    pub capacity: u64,
    /// How long a verified token may be served without a reload (the bound when an
    /// invalidation is lost).
    pub ttl: Duration,
    /// How long an unknown digest is remembered.
    pub negative_ttl: Duration,
    /// How long into a database outage an entry that could not be read again (past its TTL,
    /// or unconfirmed) is still served (0: never).
    pub stale_if_error: Duration,
}

/// Everything wrong with the configuration, each message naming its variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    /// One line per problem.
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(problem: String) -> Self {
        Self {
            problems: vec![problem],
        }
    }
}

/// The raw `TOKEND_*` key/value pairs, TOML first and the environment over it.
#[derive(Debug, Clone, Default)]
pub struct RawConfig(BTreeMap<String, String>);

/// A loaded configuration plus the warnings to log once logging is up.
#[derive(Debug)]
pub struct Loaded {
    /// The settings.
    pub settings: Settings,
    /// Loud warnings (dev secrets in use).
    pub warnings: Vec<String>,
}

impl RawConfig {
    /// Reads the TOML file (if any) and then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let toml = match file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| ConfigError::one(format!("--config {}: {e}", path.display())))?,
            ),
            None => None,
        };
        Self::from_sources(toml.as_deref(), std::env::vars())
    }

    /// Merges a TOML document (keys `TOKEND_BIND` or `bind`) and environment pairs.
    pub fn from_sources(
        toml: Option<&str>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut map = BTreeMap::new();
        if let Some(text) = toml {
            let table: toml::Table = text
                .parse()
                .map_err(|e| ConfigError::one(format!("config file: {e}")))?;
            for (key, value) in table {
                let value = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|item| {
                            item.as_str()
                                .map_or_else(|| item.to_string(), str::to_owned)
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    table @ toml::Value::Table(_) => {
                        serde_json::to_string(&table).unwrap_or_default()
                    }
                    other => other.to_string(),
                };
                map.insert(normalize_key(&key), value);
            }
        }
        for (key, value) in env {
            if key.starts_with("TOKEND_") {
                map.insert(key, value);
            }
        }
        Ok(Self(map))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The token prefixes (all a `check-token` needs).
    pub fn prefixes(&self) -> Result<Prefixes, ConfigError> {
        let defaults = Prefixes::default();
        let prefixes = Prefixes {
            personal: self.string_or("TOKEND_PREFIX_PERSONAL", &defaults.personal),
            agent: self.string_or("TOKEND_PREFIX_AGENT", &defaults.agent),
            api: self.string_or("TOKEND_PREFIX_API", &defaults.api),
            service: self.string_or("TOKEND_PREFIX_SERVICE", &defaults.service),
        };
        prefixes
            .validate()
            .map_err(|e| ConfigError::one(format!("TOKEND_PREFIX_*: {e}")))?;
        Ok(prefixes)
    }

    /// The scope catalog: JSON in `TOKEND_SCOPE_CATALOG` (or a `[scope_catalog]` TOML table).
    fn scope_catalog(&self) -> Result<Catalog, String> {
        let Some(json) = self.get("TOKEND_SCOPE_CATALOG") else {
            return Ok(Catalog::default());
        };
        let catalog: Catalog =
            serde_json::from_str(json).map_err(|e| format!("TOKEND_SCOPE_CATALOG: {e}"))?;
        catalog
            .validate()
            .map_err(|e| format!("TOKEND_SCOPE_CATALOG: {e}"))?;
        Ok(catalog)
    }

    fn string_or(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_owned()
    }

    fn number<T: std::str::FromStr>(&self, key: &str, default: T, problems: &mut Vec<String>) -> T {
        match self.get(key) {
            None => default,
            Some(raw) => raw.parse().unwrap_or_else(|_| {
                problems.push(format!(
                    "{key}: expected a positive whole number, got {raw:?}"
                ));
                default
            }),
        }
    }

    /// One of a closed set of names, `default` when unset; anything else is a problem naming
    /// the accepted values.
    fn choice<T: Copy>(
        &self,
        key: &str,
        default: T,
        options: &[(&str, T)],
        problems: &mut Vec<String>,
    ) -> T {
        let Some(raw) = self.get(key) else {
            return default;
        };
        options.iter().find(|(name, _)| *name == raw).map_or_else(
            || {
                let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
                problems.push(format!(
                    "{key}: expected {}, got {raw:?}",
                    names.join(" or ")
                ));
                default
            },
            |(_, value)| *value,
        )
    }

    /// The database URL and pool options (a SQLite file in `data_dir` by default).
    fn database(&self, data_dir: &Path, problems: &mut Vec<String>) -> (DatabaseUrl, PoolOptions) {
        let database_url = self.get("TOKEND_DATABASE_URL").map_or_else(
            || Ok(DatabaseUrl::Sqlite(data_dir.join("tokend.db"))),
            DatabaseUrl::parse,
        );
        let database_url = database_url.unwrap_or_else(|e| {
            problems.push(format!("TOKEND_DATABASE_URL: {e}"));
            DatabaseUrl::Sqlite(data_dir.join("tokend.db"))
        });
        let pool = PoolOptions {
            max_size: self.number(
                "TOKEND_DATABASE_POOL_SIZE",
                default_pool_size(&database_url),
                problems,
            ),
            connection_timeout: Duration::from_millis(self.number(
                "TOKEND_DATABASE_TIMEOUT_MS",
                5000,
                problems,
            )),
            breaker: BreakerOptions {
                threshold: self.number("TOKEND_DATABASE_BREAKER_THRESHOLD", 3, problems),
                probe_every: Duration::from_millis(self.number(
                    "TOKEND_DATABASE_BREAKER_PROBE_MS",
                    500,
                    problems,
                )),
            },
        };
        if pool.max_size == 0 {
            problems.push("TOKEND_DATABASE_POOL_SIZE: must be at least 1".into());
        }
        if pool.connection_timeout.is_zero() {
            problems.push("TOKEND_DATABASE_TIMEOUT_MS: must be at least 1".into());
        }
        if pool.breaker.threshold == 0 {
            problems.push("TOKEND_DATABASE_BREAKER_THRESHOLD: must be at least 1".into());
        }
        if pool.breaker.probe_every.is_zero() {
            problems.push("TOKEND_DATABASE_BREAKER_PROBE_MS: must be at least 1".into());
        }
        (database_url, pool)
    }

    /// A comma-separated list of networks (`10.0.0.0/8`, or a bare address); empty when unset.
    fn networks(&self, key: &str, problems: &mut Vec<String>) -> Vec<ipnet::IpNet> {
        let Some(raw) = self.get(key) else {
            return Vec::new();
        };
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .filter_map(|entry| {
                let parsed = entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
                if parsed.is_err() {
                    problems.push(format!(
                        "{key}: {entry:?} is neither an address nor a network (CIDR)"
                    ));
                }
                parsed.ok()
            })
            .collect()
    }

    /// The verified-token cache's size and lifetimes.
    fn cache(&self, problems: &mut Vec<String>) -> CacheSettings {
        let millis = |key, default, problems: &mut Vec<String>| {
            Duration::from_millis(self.number(key, default, problems))
        };
        CacheSettings {
            capacity: self.number("TOKEND_CACHE_CAPACITY", 100_000, problems),
            ttl: millis("TOKEND_CACHE_TTL_MS", 30_000, problems),
            negative_ttl: millis("TOKEND_CACHE_NEGATIVE_TTL_MS", 5_000, problems),
            stale_if_error: millis("TOKEND_CACHE_STALE_IF_ERROR_MS", 60_000, problems),
        }
    }

    /// Where the client's address comes from: trusted proxies and their header.
    fn client_ip(&self, problems: &mut Vec<String>) -> ClientIpSettings {
        let client_ip = ClientIpSettings {
            trusted_proxies: self.networks("TOKEND_TRUSTED_PROXIES", problems),
            header: self
                .string_or("TOKEND_CLIENT_IP_HEADER", "x-forwarded-for")
                .to_ascii_lowercase(),
        };
        let header_name = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if client_ip.header.is_empty() || !client_ip.header.chars().all(header_name) {
            problems.push(format!(
                "TOKEND_CLIENT_IP_HEADER: {:?} is not a header name",
                client_ip.header
            ));
        }
        client_ip
    }

    /// tokend's own rate limits.
    fn limits(&self, problems: &mut Vec<String>) -> LimitSettings {
        LimitSettings {
            auth_failures_per_minute: self.number("TOKEND_AUTH_FAILURES_PER_MINUTE", 60, problems),
            introspection_per_second: self.number("TOKEND_INTROSPECTION_PER_SECOND", 0, problems),
        }
    }

    /// Validates everything and, in development, creates missing dev secrets in the data dir.
    pub fn into_settings(self) -> Result<Loaded, ConfigError> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let environment = self.choice(
            "TOKEND_ENV",
            Environment::Development,
            &[
                ("development", Environment::Development),
                ("production", Environment::Production),
            ],
            &mut problems,
        );
        let bind = self.string_or("TOKEND_BIND", "127.0.0.1:8080");
        if bind.parse::<std::net::SocketAddr>().is_err() {
            problems.push(format!("TOKEND_BIND: expected HOST:PORT, got {bind:?}"));
        }
        let data_dir = PathBuf::from(self.string_or("TOKEND_DATA_DIR", "./data"));
        let (database_url, pool) = self.database(&data_dir, &mut problems);
        let workers = self.number("TOKEND_WORKERS", cores(), &mut problems);
        if workers == 0 {
            problems.push("TOKEND_WORKERS: must be at least 1".into());
        }
        let cache = self.cache(&mut problems);
        let forward_auth_trusted =
            self.networks("TOKEND_FORWARD_AUTH_TRUSTED_NETWORKS", &mut problems);
        let usage_ms: u64 = self.number("TOKEND_USAGE_FLUSH_INTERVAL_MS", 1000, &mut problems);
        if usage_ms == 0 {
            problems.push("TOKEND_USAGE_FLUSH_INTERVAL_MS: must be at least 1".into());
        }
        let audit_retention_days = self.number("TOKEND_AUDIT_RETENTION_DAYS", 400, &mut problems);
        let client_ip = self.client_ip(&mut problems);
        let limits = self.limits(&mut problems);
        let shutdown_delay =
            Duration::from_millis(self.number("TOKEND_SHUTDOWN_DELAY_MS", 2000, &mut problems));
        let console_enabled = self.choice(
            "TOKEND_CONSOLE_ENABLED",
            true,
            &[("true", true), ("false", false)],
            &mut problems,
        );
        let log_format = self.choice(
            "TOKEND_LOG_FORMAT",
            LogFormat::Pretty,
            &[("pretty", LogFormat::Pretty), ("json", LogFormat::Json)],
            &mut problems,
        );
        let prefixes = self.prefixes().unwrap_or_else(|e| {
            problems.extend(e.problems);
            Prefixes::default()
        });

        let scope_catalog = self.scope_catalog().unwrap_or_else(|problem| {
            problems.push(problem);
            Catalog::default()
        });
        let (peppers, session_key) =
            self.secrets(environment, &data_dir, &mut problems, &mut warnings);

        match (peppers, session_key) {
            (Some(peppers), Some(session_key)) if problems.is_empty() => Ok(Loaded {
                settings: Settings {
                    environment,
                    bind,
                    workers,
                    data_dir,
                    database_url,
                    pool,
                    peppers,
                    session_key,
                    session_issuer: self.get("TOKEND_SESSION_JWT_ISSUER").map(str::to_owned),
                    session_audience: self.get("TOKEND_SESSION_JWT_AUDIENCE").map(str::to_owned),
                    usage_flush_interval: Duration::from_millis(usage_ms),
                    audit_retention_days,
                    log_format,
                    prefixes,
                    scope_catalog,
                    cache,
                    forward_auth_trusted,
                    client_ip,
                    limits,
                    shutdown_delay,
                    console_enabled,
                },
                warnings,
            }),
            _ => Err(ConfigError { problems }),
        }
    }

    /// Peppers and the session key: required in production, generated once in development.
    fn secrets(
        &self,
        environment: Environment,
        data_dir: &Path,
        problems: &mut Vec<String>,
        warnings: &mut Vec<String>,
    ) -> (Option<Peppers>, Option<SessionKey>) {
        let production = environment == Environment::Production;
        let pepper_spec = match self.get("TOKEND_PEPPERS") {
            Some(spec) => Some(spec.to_owned()),
            None if production => {
                problems.push(
                    "TOKEND_PEPPERS is required when TOKEND_ENV=production \
                     (id:secret[,id:secret…], each secret at least 32 bytes)"
                        .into(),
                );
                None
            }
            None => Some(dev_secret(
                data_dir,
                "dev-peppers",
                |raw| format!("dev:{raw}"),
                warnings,
                problems,
            )),
        };
        let peppers = pepper_spec.and_then(|spec| {
            parse_pepper_list(&spec)
                .and_then(Peppers::new)
                .map_err(|e| problems.push(format!("TOKEND_PEPPERS: {e}")))
                .ok()
        });

        let public_key_file = self
            .get("TOKEND_SESSION_JWT_PUBLIC_KEY_FILE")
            .map(PathBuf::from);
        let session_key = match (self.get("TOKEND_SESSION_JWT_SECRET"), public_key_file) {
            (Some(_), Some(_)) => {
                problems.push(
                    "TOKEND_SESSION_JWT_SECRET and TOKEND_SESSION_JWT_PUBLIC_KEY_FILE are both \
                     set; set one"
                        .into(),
                );
                None
            }
            (None, Some(path)) => {
                if !path.is_file() {
                    problems.push(format!(
                        "TOKEND_SESSION_JWT_PUBLIC_KEY_FILE: {} is not a readable file",
                        path.display()
                    ));
                }
                Some(SessionKey::PublicKeyFile(path))
            }
            (Some(secret), None) => {
                if secret.len() < 32 {
                    problems.push("TOKEND_SESSION_JWT_SECRET: must be at least 32 bytes".into());
                }
                Some(SessionKey::Hs256(Secret(secret.as_bytes().to_vec())))
            }
            (None, None) if production => {
                problems.push(
                    "TOKEND_SESSION_JWT_SECRET (or TOKEND_SESSION_JWT_PUBLIC_KEY_FILE) is \
                     required when TOKEND_ENV=production"
                        .into(),
                );
                None
            }
            (None, None) => {
                let secret = dev_secret(
                    data_dir,
                    "dev-session-secret",
                    |raw| raw,
                    warnings,
                    problems,
                );
                Some(SessionKey::Hs256(Secret(secret.into_bytes())))
            }
        };
        (peppers, session_key)
    }
}

/// `bind` and `TOKEND_BIND` both name `TOKEND_BIND`.
fn normalize_key(key: &str) -> String {
    let upper = key.to_ascii_uppercase();
    if upper.starts_with("TOKEND_") {
        upper
    } else {
        format!("TOKEND_{upper}")
    }
}

/// Reads a development secret from the data dir, creating it (mode 0600) on first use.
fn dev_secret(
    data_dir: &Path,
    file: &str,
    shape: impl Fn(String) -> String,
    warnings: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> String {
    let path = data_dir.join(file);
    let result = std::fs::read_to_string(&path)
        .map(|s| s.trim().to_owned())
        .or_else(|_| {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            let value = shape(STANDARD.encode(bytes));
            std::fs::create_dir_all(data_dir)?;
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)?;
            out.write_all(value.as_bytes())?;
            Ok::<_, std::io::Error>(value)
        });
    match result {
        Ok(value) => {
            warnings.push(format!(
                "DEVELOPMENT SECRET IN USE: {} comes from {} (generated, not for production; \
                 set TOKEND_ENV=production with real secrets to deploy)",
                if file == "dev-peppers" {
                    "TOKEND_PEPPERS"
                } else {
                    "TOKEND_SESSION_JWT_SECRET"
                },
                path.display()
            ));
            value
        }
        Err(e) => {
            problems.push(format!(
                "could not create dev secret {}: {e}",
                path.display()
            ));
            String::new()
        }
    }
}

/// The cores this process may use (the default number of workers).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
}

/// Connections per pool when not configured. Database work is CPU-bound here (SQLite runs in
/// this process; PostgreSQL's backends share the machine), so more connections than cores only
/// add threads taking turns: one per core for SQLite (which has a read pool and a write pool),
/// two per core for PostgreSQL, and never fewer than 2 and 4.
fn default_pool_size(url: &DatabaseUrl) -> u32 {
    let cores = u32::try_from(cores()).unwrap_or(u32::MAX);
    match url.backend() {
        crate::db::Backend::Sqlite => cores.max(2),
        crate::db::Backend::Postgres => cores.saturating_mul(2).max(4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// The settings of a deployment with valid secrets and `extra`, or the problems found.
    fn with_secrets(extra: &[(&str, &str)]) -> Result<Settings, Vec<String>> {
        let mut all = vec![
            ("TOKEND_PEPPERS", "a:0123456789012345678901234567890123"),
            (
                "TOKEND_SESSION_JWT_SECRET",
                "0123456789012345678901234567890123",
            ),
        ];
        all.extend_from_slice(extra);
        RawConfig::from_sources(None, pairs(&all))
            .and_then(RawConfig::into_settings)
            .map(|loaded| loaded.settings)
            .map_err(|e| e.problems)
    }

    #[test]
    fn environment_wins_over_toml_and_toml_keys_may_be_short() {
        let raw = RawConfig::from_sources(
            Some("bind = \"127.0.0.1:1\"\nTOKEND_LOG_FORMAT = \"json\""),
            pairs(&[("TOKEND_BIND", "127.0.0.1:2"), ("HOME", "/x")]),
        )
        .map(|r| r.0);
        let raw = raw.unwrap_or_default();
        assert_eq!(
            raw.get("TOKEND_BIND").map(String::as_str),
            Some("127.0.0.1:2")
        );
        assert_eq!(
            raw.get("TOKEND_LOG_FORMAT").map(String::as_str),
            Some("json")
        );
        assert!(!raw.contains_key("HOME"));
    }

    #[test]
    fn production_names_each_missing_secret() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let data = dir.path().to_string_lossy().into_owned();
        let err = RawConfig::from_sources(
            None,
            pairs(&[("TOKEND_ENV", "production"), ("TOKEND_DATA_DIR", &data)]),
        )
        .and_then(RawConfig::into_settings)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("TOKEND_PEPPERS"), "{err}");
        assert!(err.contains("TOKEND_SESSION_JWT_SECRET"), "{err}");
        assert!(std::fs::read_dir(dir.path()).is_ok_and(|mut d| d.next().is_none()));
    }

    #[test]
    fn development_generates_secrets_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let data = dir.path().to_string_lossy().into_owned();
        let load = || {
            RawConfig::from_sources(None, pairs(&[("TOKEND_DATA_DIR", &data)]))
                .and_then(RawConfig::into_settings)
        };
        let first = load().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.warnings.len(), 2);
        let pepper_file = dir.path().join("dev-peppers");
        let before = std::fs::read_to_string(&pepper_file).unwrap_or_default();
        let mode = std::fs::metadata(&pepper_file).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        load().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            std::fs::read_to_string(&pepper_file).unwrap_or_default(),
            before
        );
        assert!(!format!("{:?}", first.settings).contains(&before));
    }

    #[test]
    fn scope_catalog_comes_from_a_toml_table() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let toml = format!(
            "data_dir = {:?}\n[scope_catalog]\nresources = [{{ name = \"widgets\", description = \"Widgets\" }}]\npresets = [{{ id = \"w\", name = \"W\", scopes = [\"read:widgets\"] }}]\n",
            dir.path().display().to_string()
        );
        let loaded = RawConfig::from_sources(Some(&toml), Vec::new())
            .and_then(RawConfig::into_settings)
            .unwrap_or_else(|e| panic!("{e}"));
        let catalog = loaded.settings.scope_catalog;
        assert!(catalog.known("read:widgets").is_some());
        assert!(catalog.known("read:projects").is_none());
        assert_eq!(
            catalog.preset("w").map(|p| p.scopes.clone()),
            Some(vec!["read:widgets".to_owned()])
        );

        let bad = RawConfig::from_sources(None, pairs(&[("TOKEND_DATA_DIR", &dir.path().display().to_string()), ("TOKEND_SCOPE_CATALOG", "{\"resources\": [], \"presets\": [{\"id\": \"x\", \"name\": \"X\", \"scopes\": [\"read:nothing\"]}]}")]))
            .and_then(RawConfig::into_settings)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(bad.contains("TOKEND_SCOPE_CATALOG"), "{bad}");
    }

    #[test]
    fn workers_default_to_one_per_core() {
        let settings = |extra: &[(&str, &str)]| with_secrets(extra).map(|s| s.workers).ok();
        assert_eq!(settings(&[]), Some(cores()));
        assert_eq!(settings(&[("TOKEND_WORKERS", "1")]), Some(1));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let err = RawConfig::from_sources(
            None,
            pairs(&[
                ("TOKEND_BIND", "nope"),
                ("TOKEND_DATABASE_URL", "mysql://x"),
                ("TOKEND_USAGE_FLUSH_INTERVAL_MS", "soon"),
                ("TOKEND_LOG_FORMAT", "xml"),
                ("TOKEND_WORKERS", "0"),
                ("TOKEND_DATABASE_TIMEOUT_MS", "0"),
                ("TOKEND_DATABASE_BREAKER_THRESHOLD", "0"),
                ("TOKEND_DATABASE_BREAKER_PROBE_MS", "0"),
                ("TOKEND_CACHE_STALE_IF_ERROR_MS", "soon"),
                ("TOKEND_AUTH_FAILURES_PER_MINUTE", "-1"),
                ("TOKEND_INTROSPECTION_PER_SECOND", "many"),
                ("TOKEND_TRUSTED_PROXIES", "not-a-network"),
                ("TOKEND_CLIENT_IP_HEADER", "bad header"),
                ("TOKEND_SHUTDOWN_DELAY_MS", "later"),
                ("TOKEND_CONSOLE_ENABLED", "maybe"),
                ("TOKEND_PEPPERS", "a:short"),
                (
                    "TOKEND_SESSION_JWT_SECRET",
                    "0123456789012345678901234567890123",
                ),
            ]),
        )
        .and_then(RawConfig::into_settings)
        .err()
        .map(|e| e.problems)
        .unwrap_or_default();
        for key in [
            "TOKEND_BIND",
            "TOKEND_DATABASE_URL",
            "TOKEND_USAGE_FLUSH_INTERVAL_MS",
            "TOKEND_LOG_FORMAT",
            "TOKEND_WORKERS",
            "TOKEND_DATABASE_TIMEOUT_MS",
            "TOKEND_DATABASE_BREAKER_THRESHOLD",
            "TOKEND_DATABASE_BREAKER_PROBE_MS",
            "TOKEND_CACHE_STALE_IF_ERROR_MS",
            "TOKEND_AUTH_FAILURES_PER_MINUTE",
            "TOKEND_INTROSPECTION_PER_SECOND",
            "TOKEND_TRUSTED_PROXIES",
            "TOKEND_CLIENT_IP_HEADER",
            "TOKEND_SHUTDOWN_DELAY_MS",
            "TOKEND_CONSOLE_ENABLED",
            "TOKEND_PEPPERS",
        ] {
            assert!(
                err.iter().any(|p| p.starts_with(key)),
                "{key} not named in {err:?}"
            );
        }
    }

    #[test]
    fn audit_retention_defaults_to_400_days_and_0_keeps_events_forever() {
        let retention =
            |extra: &[(&str, &str)]| with_secrets(extra).map(|s| s.audit_retention_days);
        assert_eq!(retention(&[]), Ok(400));
        assert_eq!(retention(&[("TOKEND_AUDIT_RETENTION_DAYS", "30")]), Ok(30));
        assert_eq!(retention(&[("TOKEND_AUDIT_RETENTION_DAYS", "0")]), Ok(0));
        for bad in ["a year", "-1", "1.5"] {
            let problems = retention(&[("TOKEND_AUDIT_RETENTION_DAYS", bad)])
                .err()
                .unwrap_or_default();
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with("TOKEND_AUDIT_RETENTION_DAYS")),
                "{bad}: {problems:?}"
            );
        }
    }
}
