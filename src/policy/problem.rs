//! What is wrong with an MTA-STS record or policy or a TLS-RPT record, in no language: a
//! key and the piece of the record it is about. The words are the knowledge base's
//! (`policy_problem_*` in `kb/<lang>/ui.toml`), chosen when a report is rendered; JSON
//! keeps the English sentences it always had (`problems`) beside the keys (`problem_keys`).

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::kb::{self, Lang};

/// The kinds of problems the parsers name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKey {
    /// A field of a `;`-separated record that has no `=` (`value`: the field).
    NotNameValue,
    /// The MTA-STS record's `id` is not 1 to 32 letters and digits (`value`: the id).
    StsIdInvalid,
    /// The MTA-STS record has no `id`.
    StsIdMissing,
    /// A policy line without `:` (`value`: the line).
    NotKeyValue,
    /// A policy field given twice (`value`: its name).
    Repeated,
    /// `mode` is not enforce, testing or none (`value`: the mode).
    ModeInvalid,
    /// `max_age` is not a number of seconds within the limit (`value`: the value).
    MaxAgeInvalid,
    /// An `mx` value that is no host name or `*.` pattern (`value`: the value).
    MxInvalid,
    /// `version` is not `STSv1` (`value`: the version).
    VersionInvalid,
    VersionMissing,
    ModeMissing,
    MaxAgeMissing,
    /// No `mx` field in a policy whose mode is not none.
    MxMissing,
    /// A TLS-RPT record that does not start with `v=TLSRPTv1` (`value`: its first field).
    RptVersion,
    RptRuaTwice,
    RptRuaMissing,
    /// A `mailto:` destination without an address (`value`: the URI).
    RptMailtoInvalid,
    /// An `https:` destination without a host (`value`: the URI).
    RptHttpsInvalid,
    /// A destination of another scheme (`value`: the URI).
    RptSchemeInvalid,
    /// Several TLS-RPT records (`value`: how many).
    RptSeveral,
}

/// One problem: its key and what it is about (quoted as the parser read it, control
/// characters escaped), empty when the key says it all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub key: ProblemKey,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub value: String,
}

impl Problem {
    #[must_use]
    pub fn new(key: ProblemKey) -> Problem {
        Problem {
            key,
            value: String::new(),
        }
    }

    /// A problem about a piece of the record, quoted with its control characters escaped:
    /// it came from the network.
    #[must_use]
    pub fn about(key: ProblemKey, value: &str) -> Problem {
        Problem {
            key,
            value: format!("{value:?}"),
        }
    }

    /// The problem in words of `lang`.
    #[must_use]
    pub fn text(&self, lang: Lang) -> String {
        let ui = kb::ui(lang);
        let template = match self.key {
            ProblemKey::NotNameValue => ui.policy_problem_not_name_value,
            ProblemKey::StsIdInvalid => ui.policy_problem_sts_id_invalid,
            ProblemKey::StsIdMissing => ui.policy_problem_sts_id_missing,
            ProblemKey::NotKeyValue => ui.policy_problem_not_key_value,
            ProblemKey::Repeated => ui.policy_problem_repeated,
            ProblemKey::ModeInvalid => ui.policy_problem_mode_invalid,
            ProblemKey::MaxAgeInvalid => ui.policy_problem_max_age_invalid,
            ProblemKey::MxInvalid => ui.policy_problem_mx_invalid,
            ProblemKey::VersionInvalid => ui.policy_problem_version_invalid,
            ProblemKey::VersionMissing => ui.policy_problem_version_missing,
            ProblemKey::ModeMissing => ui.policy_problem_mode_missing,
            ProblemKey::MaxAgeMissing => ui.policy_problem_max_age_missing,
            ProblemKey::MxMissing => ui.policy_problem_mx_missing,
            ProblemKey::RptVersion => ui.policy_problem_rpt_version,
            ProblemKey::RptRuaTwice => ui.policy_problem_rpt_rua_twice,
            ProblemKey::RptRuaMissing => ui.policy_problem_rpt_rua_missing,
            ProblemKey::RptMailtoInvalid => ui.policy_problem_rpt_mailto_invalid,
            ProblemKey::RptHttpsInvalid => ui.policy_problem_rpt_https_invalid,
            ProblemKey::RptSchemeInvalid => ui.policy_problem_rpt_scheme_invalid,
            ProblemKey::RptSeveral => ui.policy_problem_rpt_several,
        };
        kb::fill(
            template,
            &[
                ("value", self.value.as_str()),
                ("limit", &super::mta_sts::MAX_AGE_LIMIT.to_string()),
            ],
        )
    }

    /// Several problems in words of `lang`, one sentence after the other.
    #[must_use]
    pub fn texts(problems: &[Problem], lang: Lang) -> String {
        problems
            .iter()
            .map(|p| p.text(lang))
            .collect::<Vec<_>>()
            .join(kb::ui(lang).policy_problem_separator)
    }
}

/// The problems of a record or policy. In JSON, two fields of the object it is flattened
/// into: `problems`, the English sentences, and `problem_keys`, the problems themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl std::ops::Deref for Problems {
    type Target = Vec<Problem>;
    fn deref(&self) -> &Vec<Problem> {
        &self.0
    }
}

impl std::ops::DerefMut for Problems {
    fn deref_mut(&mut self) -> &mut Vec<Problem> {
        &mut self.0
    }
}

impl Serialize for Problems {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let english: Vec<String> = self.0.iter().map(|p| p.text(Lang::En)).collect();
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("problems", &english)?;
        map.serialize_entry("problem_keys", &self.0)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{mta_sts, tls_rpt};

    #[test]
    fn json_keeps_the_english_sentences_beside_the_keys() {
        let policy = mta_sts::parse_policy("version: STSv1\nmode: strict\nmx: a.example\n");
        let json = serde_json::to_value(&policy).unwrap();
        assert_eq!(
            json["problems"],
            serde_json::json!([
                "mode \"strict\" is not enforce, testing or none",
                "the max_age field is missing"
            ])
        );
        assert_eq!(
            json["problem_keys"],
            serde_json::json!([
                {"key": "mode-invalid", "value": "\"strict\""},
                {"key": "max-age-missing"}
            ])
        );
        let record = tls_rpt::parse("v=TLSRPTv1; rua=ftp://x.example");
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["problem_keys"][0]["key"], "rpt-scheme-invalid");
        assert!(json["problems"][0].as_str().unwrap().contains("ftp://"));
    }

    #[test]
    fn every_problem_has_words_in_every_language() {
        let keys = [
            ProblemKey::NotNameValue,
            ProblemKey::StsIdInvalid,
            ProblemKey::StsIdMissing,
            ProblemKey::NotKeyValue,
            ProblemKey::Repeated,
            ProblemKey::ModeInvalid,
            ProblemKey::MaxAgeInvalid,
            ProblemKey::MxInvalid,
            ProblemKey::VersionInvalid,
            ProblemKey::VersionMissing,
            ProblemKey::ModeMissing,
            ProblemKey::MaxAgeMissing,
            ProblemKey::MxMissing,
            ProblemKey::RptVersion,
            ProblemKey::RptRuaTwice,
            ProblemKey::RptRuaMissing,
            ProblemKey::RptMailtoInvalid,
            ProblemKey::RptHttpsInvalid,
            ProblemKey::RptSchemeInvalid,
            ProblemKey::RptSeveral,
        ];
        for lang in [Lang::En, Lang::Ja, Lang::Fr] {
            for key in keys {
                let text = Problem::about(key, "x").text(lang);
                assert!(
                    !text.is_empty() && !text.contains('{'),
                    "{key:?} {lang:?}: {text}"
                );
            }
        }
        let english = Problem::about(ProblemKey::MaxAgeInvalid, "forever").text(Lang::En);
        assert!(english.ends_with("from 0 to 31557600"), "{english}");
        let japanese = Problem::new(ProblemKey::ModeMissing).text(Lang::Ja);
        assert!(!japanese.contains("missing"), "{japanese}");
    }
}
