//! Where a setting's raw text comes from (the environment first, then the settings file), and the
//! error that names a bad one.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the settings file {path} is not valid TOML: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("invalid setting {key} ({env}): expected {expected}")]
    Invalid {
        key: String,
        env: String,
        expected: String,
    },
}

/// The settings file's table; empty when there is no file.
pub(super) fn read_file(path: Option<&Path>) -> Result<toml::Table, SettingsError> {
    let Some(path) = path else {
        return Ok(toml::Table::new());
    };
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
        path: path.to_owned(),
        source,
    })?;
    text.parse::<toml::Table>()
        .map_err(|e| SettingsError::Syntax {
            path: path.to_owned(),
            message: e.message().to_owned(),
        })
}

/// Where a setting's raw text comes from: the environment first, then the file.
pub(super) struct Source<'a> {
    pub(super) file: toml::Table,
    pub(super) env: &'a dyn Fn(&str) -> Option<String>,
}

impl Source<'_> {
    pub(super) fn raw(&self, key: &str, env: &str) -> Option<String> {
        if let Some(value) = (self.env)(env) {
            return Some(value);
        }
        let (section, name) = key.split_once('.')?;
        let value = self.file.get(section)?.get(name)?;
        Some(match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    pub(super) fn text(&self, key: &str, env: &str, default: &str) -> String {
        self.raw(key, env).unwrap_or_else(|| default.to_owned())
    }

    /// An optional value; empty counts as unset.
    pub(super) fn optional(&self, key: &str, env: &str) -> Option<String> {
        self.raw(key, env)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub(super) fn parse<T: std::str::FromStr>(
        &self,
        key: &str,
        env: &str,
        default: &str,
        expected: &str,
    ) -> Result<T, SettingsError> {
        let text = self.text(key, env, default);
        text.trim()
            .parse()
            .map_err(|_| invalid(key, env, &format!("{expected}, got {text:?}")))
    }

    /// A duration given in whole milliseconds, above zero.
    pub(super) fn millis(
        &self,
        key: &str,
        env: &str,
        default: &str,
    ) -> Result<Duration, SettingsError> {
        let ms: u64 = self.parse(key, env, default, "a whole number of milliseconds")?;
        if ms == 0 {
            return Err(invalid(key, env, "a number of milliseconds above zero"));
        }
        Ok(Duration::from_millis(ms))
    }

    /// A rate limit: a whole number of requests per minute, above zero.
    pub(super) fn per_minute(
        &self,
        key: &str,
        env: &str,
        default: &str,
    ) -> Result<u64, SettingsError> {
        let n: u64 = self.parse(key, env, default, "a whole number of requests per minute")?;
        if n == 0 {
            return Err(invalid(
                key,
                env,
                "a number of requests per minute above zero",
            ));
        }
        Ok(n)
    }

    pub(super) fn flag(&self, key: &str, env: &str, default: &str) -> Result<bool, SettingsError> {
        match self.text(key, env, default).trim() {
            "true" | "1" | "on" | "yes" => Ok(true),
            "false" | "0" | "off" | "no" => Ok(false),
            other => Err(invalid(key, env, &format!("true or false, got {other:?}"))),
        }
    }
}

pub(super) fn invalid(key: &str, env: &str, expected: &str) -> SettingsError {
    SettingsError::Invalid {
        key: key.into(),
        env: env.into(),
        expected: expected.into(),
    }
}
