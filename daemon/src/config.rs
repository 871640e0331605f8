//! `dutyd` configuration: defaults, then a TOML file, then `DUTYD_*`
//! environment variables, then command-line flags. Unknown keys are errors.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything `dutyd` can be told.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to serve gRPC on.
    pub listen: SocketAddr,
    /// Directory of the store.
    pub data: PathBuf,
    /// The centre's IANA time zone: incident numbers and days use it.
    pub time_zone: String,
    /// sled page cache, in MiB (memory use is roughly a multiple of it).
    pub cache_mb: u64,
    /// Largest request or reply message, in KiB.
    pub max_message_kb: usize,
    /// Seconds between Watch heartbeats on an idle stream.
    pub heartbeat_secs: u64,
    /// Seconds to let in-flight calls finish on shutdown before cutting them.
    pub shutdown_grace_secs: u64,
    /// Seconds a post or unit may be without a Watch stream before it is
    /// shown offline (a link that drops and comes straight back does not
    /// flap).
    pub offline_after_secs: u64,
    /// A client clock off by more than this many seconds is flagged, and the
    /// times it reports are corrected by its measured offset.
    pub clock_skew_secs: u64,
    /// PEM certificate chain to serve gRPC over TLS with (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// PEM CA whose client certificates are required (mTLS); each binds a
    /// connection to one post, unit or the centre.
    pub client_ca: Option<PathBuf>,
    /// Calls per second one token may make, sustained (0: unlimited).
    pub calls_per_second_per_token: u32,
    /// Calls one token may make at once after a quiet spell.
    pub call_burst_per_token: u32,
    /// Watch streams one token may hold open (0: unlimited).
    pub max_streams_per_token: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7350)),
            data: PathBuf::from("dutyroom-data"),
            time_zone: "Asia/Shanghai".into(),
            cache_mb: 64,
            max_message_kb: 1024,
            heartbeat_secs: 10,
            shutdown_grace_secs: 5,
            offline_after_secs: 5,
            clock_skew_secs: 10,
            tls_cert: None,
            tls_key: None,
            client_ca: None,
            calls_per_second_per_token: 100,
            call_burst_per_token: 400,
            max_streams_per_token: 16,
        }
    }
}

/// A configuration problem, said so a person can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this config (includes unknown keys).
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's words.
        message: String,
    },
    /// An environment variable or value is not acceptable.
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, overlaid by `file` (if given), then by `DUTYD_*` variables
    /// read through `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        fn parsed<T: std::str::FromStr>(name: &str, value: String) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            value
                .parse()
                .map_err(|e| ConfigError::Invalid(format!("{name}={value:?}: {e}")))
        }
        if let Some(v) = env("DUTYD_LISTEN") {
            config.listen = parsed("DUTYD_LISTEN", v)?;
        }
        if let Some(v) = env("DUTYD_DATA") {
            config.data = PathBuf::from(v);
        }
        if let Some(v) = env("DUTYD_TIME_ZONE") {
            config.time_zone = v;
        }
        if let Some(v) = env("DUTYD_CACHE_MB") {
            config.cache_mb = parsed("DUTYD_CACHE_MB", v)?;
        }
        if let Some(v) = env("DUTYD_HEARTBEAT_SECS") {
            config.heartbeat_secs = parsed("DUTYD_HEARTBEAT_SECS", v)?;
        }
        Ok(config)
    }

    /// Checks values that parse but make no sense.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.zone()?;
        if self.cache_mb < 4 {
            return Err(ConfigError::Invalid(format!(
                "cache_mb = {}: use at least 4",
                self.cache_mb
            )));
        }
        if !(64..=65536).contains(&self.max_message_kb) {
            return Err(ConfigError::Invalid(format!(
                "max_message_kb = {}: use 64 to 65536",
                self.max_message_kb
            )));
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "tls_cert and tls_key go together: give both, or neither".into(),
                ));
            }
            (None, None) if self.client_ca.is_some() => {
                return Err(ConfigError::Invalid(
                    "client_ca needs TLS: give tls_cert and tls_key too".into(),
                ));
            }
            _ => {}
        }
        if self.heartbeat_secs == 0 {
            return Err(ConfigError::Invalid(
                "heartbeat_secs must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// The time zone, from the bundled database.
    pub fn zone(&self) -> Result<jiff::tz::TimeZone, ConfigError> {
        jiff::tz::TimeZone::get(&self.time_zone).map_err(|e| {
            ConfigError::Invalid(format!(
                "time_zone = {:?} is not an IANA time zone (like Asia/Shanghai): {e}",
                self.time_zone
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn unknown_keys_are_errors_that_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dutyd.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nlisten_port = 5\n").expect("write");
        let error = Config::load(Some(&path), no_env).expect_err("unknown key");
        assert!(error.to_string().contains("listen_port"), "{error}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("dutyd.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\ntime_zone = \"UTC\"\n").expect("write");
        let env = |name: &str| (name == "DUTYD_LISTEN").then(|| "127.0.0.1:2".to_owned());
        let config = Config::load(Some(&path), env).expect("loads");
        assert_eq!(config.listen, "127.0.0.1:2".parse().expect("addr"));
        assert_eq!(config.time_zone, "UTC");
    }

    #[test]
    fn bad_values_are_explained() {
        let config = Config {
            time_zone: "Mars/Olympus".into(),
            ..Config::default()
        };
        let error = config.validate().expect_err("bad zone");
        assert!(error.to_string().contains("Mars/Olympus"), "{error}");
        let env = |name: &str| (name == "DUTYD_CACHE_MB").then(|| "lots".to_owned());
        let error = Config::load(None, env).expect_err("bad number");
        assert!(error.to_string().contains("DUTYD_CACHE_MB"), "{error}");
    }
}
