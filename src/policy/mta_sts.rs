//! MTA-STS (RFC 8461): the `_mta-sts` TXT record and the policy a domain publishes over
//! HTTPS, read the way a sending MTA reads them.

use serde::Serialize;
use serde::ser::SerializeMap;

use super::problem::{Problem, ProblemKey, Problems};
use crate::kb::Lang;

/// The longest `max_age` a policy may give: one year (RFC 8461 §3.2).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// A policy's mode (RFC 8461 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Senders refuse to deliver over unauthenticated TLS.
    Enforce,
    /// Senders deliver anyway and report failures (TLS-RPT).
    Testing,
    /// The domain withdraws its policy.
    None,
}

/// The `_mta-sts.<domain>` record: a policy exists, and `id` changes when it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StsRecord {
    pub id: String,
}

/// Why the `_mta-sts` TXT records do not announce a policy a sender would fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordProblem {
    /// No TXT record starts with `v=STSv1`.
    Missing,
    /// Several do: senders act as if there were none (RFC 8461 §3.1).
    Several(usize),
    /// The record does not follow the grammar.
    Malformed(Problem),
}

/// In JSON `{"problem": "missing" | "several" | "malformed", "detail": ...}` as it always
/// was (the count, or the English sentence), and for a malformed record its `key` and
/// `value` too.
impl Serialize for RecordProblem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            RecordProblem::Missing => map.serialize_entry("problem", "missing")?,
            RecordProblem::Several(n) => {
                map.serialize_entry("problem", "several")?;
                map.serialize_entry("detail", n)?;
            }
            RecordProblem::Malformed(problem) => {
                map.serialize_entry("problem", "malformed")?;
                map.serialize_entry("detail", &problem.text(Lang::En))?;
                map.serialize_entry("key", &problem.key)?;
                if !problem.value.is_empty() {
                    map.serialize_entry("value", &problem.value)?;
                }
            }
        }
        map.end()
    }
}

/// Reads the TXT records of `_mta-sts.<domain>` (RFC 8461 §3.1).
pub fn read_record<'a>(txt: impl IntoIterator<Item = &'a str>) -> Result<StsRecord, RecordProblem> {
    let sts: Vec<&str> = txt
        .into_iter()
        .filter(|t| t.starts_with("v=STSv1;") || *t == "v=STSv1")
        .collect();
    let record = match sts.as_slice() {
        [] => return Err(RecordProblem::Missing),
        [one] => *one,
        several => return Err(RecordProblem::Several(several.len())),
    };
    let mut id = None;
    for field in record
        .split(';')
        .skip(1)
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        let Some((name, value)) = field.split_once('=') else {
            return Err(RecordProblem::Malformed(Problem::about(
                ProblemKey::NotNameValue,
                field,
            )));
        };
        if name == "id" {
            let valid =
                (1..=32).contains(&value.len()) && value.chars().all(|c| c.is_ascii_alphanumeric());
            if !valid {
                return Err(RecordProblem::Malformed(Problem::about(
                    ProblemKey::StsIdInvalid,
                    value,
                )));
            }
            id = Some(value.to_string());
        }
    }
    id.map(|id| StsRecord { id })
        .ok_or(RecordProblem::Malformed(Problem::new(
            ProblemKey::StsIdMissing,
        )))
}

/// A policy as fetched, with what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub version: Option<String>,
    pub mode: Option<Mode>,
    pub max_age: Option<u64>,
    /// The `mx` patterns, in order (`mail.example.com`, `*.example.net`).
    pub mx: Vec<String>,
    /// Why a sender would not use the policy; empty when it is valid.
    #[serde(flatten)]
    pub problems: Problems,
}

impl Policy {
    /// A sender uses the policy.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether an exchanger's name is one the policy allows.
    #[must_use]
    pub fn allows(&self, host: &str) -> bool {
        self.mx.iter().any(|pattern| mx_matches(pattern, host))
    }
}

/// Reads a policy file (RFC 8461 §3.2): `key: value` lines, LF or CRLF.
#[must_use]
pub fn parse_policy(text: &str) -> Policy {
    let mut policy = Policy {
        version: None,
        mode: None,
        max_age: None,
        mx: Vec::new(),
        problems: Problems::default(),
    };
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            policy
                .problems
                .push(Problem::about(ProblemKey::NotKeyValue, line));
            continue;
        };
        let value = value.trim();
        let twice = |p: &mut Problems| p.push(Problem::about(ProblemKey::Repeated, key.trim()));
        match key.trim() {
            "version" => {
                if policy.version.is_some() {
                    twice(&mut policy.problems);
                }
                policy.version = Some(value.to_string());
            }
            "mode" => {
                if policy.mode.is_some() {
                    twice(&mut policy.problems);
                }
                policy.mode = match value {
                    "enforce" => Some(Mode::Enforce),
                    "testing" => Some(Mode::Testing),
                    "none" => Some(Mode::None),
                    other => {
                        policy
                            .problems
                            .push(Problem::about(ProblemKey::ModeInvalid, other));
                        None
                    }
                };
            }
            "max_age" => {
                if policy.max_age.is_some() {
                    twice(&mut policy.problems);
                }
                match value.parse::<u64>() {
                    Ok(age) if value.len() <= 10 && age <= MAX_AGE_LIMIT => {
                        policy.max_age = Some(age);
                    }
                    _ => policy
                        .problems
                        .push(Problem::about(ProblemKey::MaxAgeInvalid, value)),
                }
            }
            "mx" => {
                if is_mx_pattern(value) {
                    policy.mx.push(value.to_ascii_lowercase());
                } else {
                    policy
                        .problems
                        .push(Problem::about(ProblemKey::MxInvalid, value));
                }
            }
            // RFC 8461 §3.2: unknown fields are ignored.
            _ => {}
        }
    }
    match policy.version.as_deref() {
        Some("STSv1") => {}
        Some(other) => policy
            .problems
            .push(Problem::about(ProblemKey::VersionInvalid, other)),
        None => policy
            .problems
            .push(Problem::new(ProblemKey::VersionMissing)),
    }
    let named = |p: &Problems, key| p.iter().any(|p| p.key == key);
    if policy.mode.is_none() && !named(&policy.problems, ProblemKey::ModeInvalid) {
        policy.problems.push(Problem::new(ProblemKey::ModeMissing));
    }
    if policy.max_age.is_none() && !named(&policy.problems, ProblemKey::MaxAgeInvalid) {
        policy
            .problems
            .push(Problem::new(ProblemKey::MaxAgeMissing));
    }
    if policy.mx.is_empty() && policy.mode != Some(Mode::None) {
        policy.problems.push(Problem::new(ProblemKey::MxMissing));
    }
    policy
}

fn is_mx_pattern(value: &str) -> bool {
    let name = value.strip_prefix("*.").unwrap_or(value);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// RFC 8461 §4.1: a pattern matches the name itself, or, as `*.example.com`, exactly one
/// label to the left of `example.com`. Case does not matter; a final dot is ignored.
#[must_use]
pub fn mx_matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => host == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record() {
        assert_eq!(
            read_record(["v=STSv1; id=20160831085700Z;"]).unwrap().id,
            "20160831085700Z"
        );
        assert_eq!(read_record(["v=spf1 -all"]), Err(RecordProblem::Missing));
        assert_eq!(
            read_record(["v=STSv1; id=1", "v=STSv1; id=2"]),
            Err(RecordProblem::Several(2))
        );
        assert!(matches!(
            read_record(["v=STSv1; id=has-dash"]),
            Err(RecordProblem::Malformed(_))
        ));
        assert!(matches!(
            read_record(["v=STSv1;"]),
            Err(RecordProblem::Malformed(_))
        ));
    }

    #[test]
    fn the_rfc_example_policy() {
        let policy = parse_policy(
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n",
        );
        assert!(policy.is_valid(), "{:?}", policy.problems);
        assert_eq!(policy.mode, Some(Mode::Enforce));
        assert!(policy.allows("mail.example.com"));
        assert!(policy.allows("mx1.example.net"));
        assert!(!policy.allows("a.b.example.net"), "one label only");
        assert!(!policy.allows("example.net"));
        assert!(!policy.allows("other.example.com"));
    }

    #[test]
    fn broken_policies() {
        assert!(!parse_policy("mode: enforce\nmx: a.example\nmax_age: 10\n").is_valid());
        assert!(
            !parse_policy("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 10").is_valid()
        );
        assert!(!parse_policy("version: STSv1\nmode: enforce\nmax_age: 10").is_valid());
        assert!(
            !parse_policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999999")
                .is_valid()
        );
        assert!(parse_policy("version: STSv1\nmode: none\nmax_age: 86400").is_valid());
        assert!(!parse_policy("<html>not found</html>").is_valid());
    }
}
