//! The console's config file, `~/.config/dutyroom/console.toml` (or
//! `$DUTY_CONFIG`, or `--config`). Unknown keys are errors: a typo must never
//! be silently ignored.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What the file may say. Flags and environment variables override it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// dutyd's address, e.g. `127.0.0.1:7350`.
    pub addr: Option<String>,
    /// Bearer token.
    pub token: Option<String>,
    /// `zh` or `en` (default: from `LANG`).
    pub language: Option<crate::tui::i18n::Lang>,
    /// Ring the terminal bell on new incidents and alarms (default true).
    pub bell: Option<bool>,
    /// Ring again every this many seconds while anything waits for the
    /// officer (default 30; 0: ring once).
    pub bell_repeat_secs: Option<u64>,
    /// Where the console keeps a post's outbox (default
    /// `~/.local/share/dutyroom`).
    pub data: Option<PathBuf>,
    /// PEM CA to trust for `https://` addresses instead of the system roots.
    pub ca: Option<PathBuf>,
    /// PEM client certificate for a dutyd that requires one (mTLS).
    pub cert: Option<PathBuf>,
    /// The private key of `cert`.
    pub key: Option<PathBuf>,
    /// Allow a token over plain `http://` to another machine.
    pub insecure: Option<bool>,
    /// Key overrides: command name → keys, e.g. `escalate = ["E"]`.
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
}

/// A config problem, said so a person can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid for this config.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's words (names the bad key).
        message: String,
    },
}

/// The default location: `$XDG_CONFIG_HOME/dutyroom/console.toml` or
/// `~/.config/dutyroom/console.toml`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("dutyroom/console.toml"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config/dutyroom/console.toml"))
}

impl ConsoleConfig {
    /// Reads `path`. A missing file at the default location is fine (empty
    /// config); a missing file the user named explicitly is an error.
    pub fn load(path: &Path, explicit: bool) -> Result<ConsoleConfig, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(ConsoleConfig::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim().replace('\n', " "),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_is_an_error_naming_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.toml");
        std::fs::write(&path, "adress = \"x\"\n").expect("write");
        let error = ConsoleConfig::load(&path, true).expect_err("typo");
        assert!(error.to_string().contains("adress"), "{error}");
    }

    #[test]
    fn console_settings_parse_and_bad_languages_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.toml");
        std::fs::write(
            &path,
            "language = \"en\"\nbell = false\n[keys]\nescalate = [\"E\"]\n",
        )
        .expect("write");
        let config = ConsoleConfig::load(&path, true).expect("valid");
        assert_eq!(config.language, Some(crate::tui::i18n::Lang::En));
        assert_eq!(config.keys.get("escalate"), Some(&vec!["E".to_owned()]));
        std::fs::write(&path, "language = \"fr\"\n").expect("write");
        assert!(ConsoleConfig::load(&path, true).is_err());
    }

    #[test]
    fn a_missing_default_file_is_empty_but_a_named_one_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nope.toml");
        assert_eq!(
            ConsoleConfig::load(&path, false).expect("empty"),
            ConsoleConfig::default()
        );
        assert!(ConsoleConfig::load(&path, true).is_err());
    }
}
