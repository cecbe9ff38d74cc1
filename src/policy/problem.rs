//! What is wrong with a policy record (MTA-STS, TLS-RPT, DMARC, a DKIM key), in no language: a
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
    /// A tag no version of the record defines (`value`: its name).
    UnknownTag,
    /// DMARC's `p` is not the tag right after `v=DMARC1` (RFC 7489 §6.3).
    DmarcPNotSecond,
    /// DMARC's `p` is not none, quarantine or reject (`value`: the value).
    DmarcPInvalid,
    /// The same, but a valid `rua` makes the record read as `p=none` (§6.6.3).
    DmarcPInvalidReadAsNone,
    DmarcPMissing,
    /// No `p`, but a valid `rua` makes the record read as `p=none` (§6.6.3).
    DmarcPMissingReadAsNone,
    /// `sp` is not none, quarantine or reject (`value`: the value).
    DmarcSpInvalid,
    /// `pct` is not 0 to 100 (`value`: the value).
    DmarcPctInvalid,
    /// `adkim` or `aspf` is neither r nor s (`value`: the tag as written).
    DmarcAlignmentInvalid,
    /// A DKIM key's `v=` is not DKIM1 (`value`: the value).
    DkimVersionInvalid,
    /// A DKIM key's `v=` is not its first tag.
    DkimVersionNotFirst,
    /// A `t=` flag other than y and s (`value`: the flag).
    DkimFlagUnknown,
    /// No `p=`: there is no key.
    DkimKeyMissing,
    /// `p=` is not base64 (`value`: the decoder's words).
    DkimKeyNotBase64,
    /// An Ed25519 key that is not 32 bytes (`value`: its length).
    DkimEd25519Length,
    /// A `k=` no verifier knows (`value`: the type).
    DkimKeyTypeUnknown,
    /// `h=sha1` alone: verifiers refuse SHA-1 signatures (RFC 8301).
    DkimSha1Only,
    /// `p=` holds a key of another algorithm than RSA.
    DkimKeyNotRsa,
    /// `p=` is no RSA key the DER reader can use (`value`: its words).
    DkimRsaUnusable,
    /// Several TXT records at a selector (`value`: how many).
    DkimSeveral,
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
            ProblemKey::UnknownTag => ui.policy_problem_unknown_tag,
            ProblemKey::DmarcPNotSecond => ui.policy_problem_dmarc_p_not_second,
            ProblemKey::DmarcPInvalid => ui.policy_problem_dmarc_p_invalid,
            ProblemKey::DmarcPInvalidReadAsNone => ui.policy_problem_dmarc_p_invalid_read_as_none,
            ProblemKey::DmarcPMissing => ui.policy_problem_dmarc_p_missing,
            ProblemKey::DmarcPMissingReadAsNone => ui.policy_problem_dmarc_p_missing_read_as_none,
            ProblemKey::DmarcSpInvalid => ui.policy_problem_dmarc_sp_invalid,
            ProblemKey::DmarcPctInvalid => ui.policy_problem_dmarc_pct_invalid,
            ProblemKey::DmarcAlignmentInvalid => ui.policy_problem_dmarc_alignment_invalid,
            ProblemKey::DkimVersionInvalid => ui.policy_problem_dkim_version_invalid,
            ProblemKey::DkimVersionNotFirst => ui.policy_problem_dkim_version_not_first,
            ProblemKey::DkimFlagUnknown => ui.policy_problem_dkim_flag_unknown,
            ProblemKey::DkimKeyMissing => ui.policy_problem_dkim_key_missing,
            ProblemKey::DkimKeyNotBase64 => ui.policy_problem_dkim_key_not_base64,
            ProblemKey::DkimEd25519Length => ui.policy_problem_dkim_ed25519_length,
            ProblemKey::DkimKeyTypeUnknown => ui.policy_problem_dkim_key_type_unknown,
            ProblemKey::DkimSha1Only => ui.policy_problem_dkim_sha1_only,
            ProblemKey::DkimKeyNotRsa => ui.policy_problem_dkim_key_not_rsa,
            ProblemKey::DkimRsaUnusable => ui.policy_problem_dkim_rsa_unusable,
            ProblemKey::DkimSeveral => ui.policy_problem_dkim_several,
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
            ProblemKey::UnknownTag,
            ProblemKey::DmarcPNotSecond,
            ProblemKey::DmarcPInvalid,
            ProblemKey::DmarcPInvalidReadAsNone,
            ProblemKey::DmarcPMissing,
            ProblemKey::DmarcPMissingReadAsNone,
            ProblemKey::DmarcSpInvalid,
            ProblemKey::DmarcPctInvalid,
            ProblemKey::DmarcAlignmentInvalid,
            ProblemKey::DkimVersionInvalid,
            ProblemKey::DkimVersionNotFirst,
            ProblemKey::DkimFlagUnknown,
            ProblemKey::DkimKeyMissing,
            ProblemKey::DkimKeyNotBase64,
            ProblemKey::DkimEd25519Length,
            ProblemKey::DkimKeyTypeUnknown,
            ProblemKey::DkimSha1Only,
            ProblemKey::DkimKeyNotRsa,
            ProblemKey::DkimRsaUnusable,
            ProblemKey::DkimSeveral,
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
