//! Where a setting's raw text comes from (the environment first, then the settings file), and the
//! error that names a bad one.

use std::path::PathBuf;

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
