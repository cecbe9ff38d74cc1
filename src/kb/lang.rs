//! Choosing the language: `--lang`, else the locale (`LC_ALL`, `LC_MESSAGES`, `LANG`), else
//! English.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use super::Lang;

/// A `--lang` value that names no language of the knowledge base.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {given:?}: choose one of {}", Lang::codes().join(", "))]
pub struct UnknownLang {
    given: String,
}

impl Lang {
    /// The ISO codes of every language.
    #[must_use]
    pub fn codes() -> Vec<&'static str> {
        Lang::ALL.iter().map(|l| l.code()).collect()
    }

    /// The language of a locale name such as `ja_JP.UTF-8` or `fr`; `None` for `C`, `POSIX`
    /// and languages the knowledge base does not have.
    #[must_use]
    pub fn from_locale(locale: &str) -> Option<Lang> {
        let language = locale
            .split(['_', '.', '@', '-'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        Lang::ALL.iter().copied().find(|l| l.code() == language)
    }

    /// The language the environment asks for, by POSIX precedence: the first of `LC_ALL`,
    /// `LC_MESSAGES` and `LANG` that is set and not empty decides; English when it names a
    /// language we do not have.
    #[must_use]
    pub fn from_env_vars(get: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|name| get(name).filter(|v| !v.is_empty()))
            .and_then(|locale| Lang::from_locale(&locale))
            .unwrap_or(Lang::En)
    }

    /// [`Lang::from_env_vars`] over this process's environment.
    #[must_use]
    pub fn from_env() -> Lang {
        Lang::from_env_vars(|name| std::env::var(name).ok())
    }
}

impl FromStr for Lang {
    type Err = UnknownLang;

    fn from_str(s: &str) -> Result<Lang, UnknownLang> {
        Lang::ALL
            .iter()
            .copied()
            .find(|l| l.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownLang {
                given: s.to_string(),
            })
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Lang {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_string())
        }
    }

    #[test]
    fn locale_precedence() {
        assert_eq!(Lang::from_env_vars(env(&[])), Lang::En);
        assert_eq!(
            Lang::from_env_vars(env(&[("LANG", "ja_JP.UTF-8")])),
            Lang::Ja
        );
        assert_eq!(
            Lang::from_env_vars(env(&[("LANG", "ja_JP.UTF-8"), ("LC_ALL", "fr_FR.UTF-8")])),
            Lang::Fr
        );
        assert_eq!(
            Lang::from_env_vars(env(&[
                ("LC_ALL", ""),
                ("LC_MESSAGES", "fr_CA"),
                ("LANG", "ja")
            ])),
            Lang::Fr
        );
        assert_eq!(Lang::from_env_vars(env(&[("LANG", "C.UTF-8")])), Lang::En);
        assert_eq!(
            Lang::from_env_vars(env(&[("LANG", "de_DE.UTF-8")])),
            Lang::En
        );
    }

    #[test]
    fn parse_lang() {
        assert_eq!("JA".parse::<Lang>().unwrap(), Lang::Ja);
        assert!("xx".parse::<Lang>().is_err());
    }
}
