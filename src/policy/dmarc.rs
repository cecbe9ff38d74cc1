//! DMARC (RFC 7489): the policy record of a domain or of its organisational domain, its
//! tags, and the authorisation of report destinations outside the domain.

use futures_util::future::join_all;
use serde::Serialize;

use super::problem::{Problem, ProblemKey, Problems};
use crate::dns::{Dns, Lookup, Outcome, QueryType, Rdata};
use crate::kb::Lang;

/// What a receiver does with mail that fails DMARC (`p=`, `sp=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    None,
    Quarantine,
    Reject,
}

impl Disposition {
    fn parse(value: &str) -> Option<Disposition> {
        match value.to_ascii_lowercase().as_str() {
            "none" => Some(Disposition::None),
            "quarantine" => Some(Disposition::Quarantine),
            "reject" => Some(Disposition::Reject),
            _ => None,
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::None => "none",
            Disposition::Quarantine => "quarantine",
            Disposition::Reject => "reject",
        }
    }
}

/// `adkim=` / `aspf=`: how closely the authenticated domain must match the From domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Alignment {
    /// The same organisational domain is enough.
    Relaxed,
    /// The very same domain.
    Strict,
}

/// A report destination (`rua=`, `ruf=`) and whether it may receive the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportDestination {
    /// `rua` (aggregate) or `ruf` (failure).
    pub tag: String,
    pub uri: String,
    /// The domain of the mailbox, when the URI is a valid `mailto:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Whether the URI is a `mailto:` address with an optional `!size` (§6.2).
    pub valid: bool,
    /// Whether the destination is outside the policy's organisational domain (§7.1).
    pub external: bool,
    /// For an external destination: whether `<domain>._report._dmarc.<destination>`
    /// publishes `v=DMARC1`; `None` when nothing was asked or the query failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorised: Option<bool>,
}

/// A parsed record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DmarcPolicy {
    pub p: Disposition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp: Option<Disposition>,
    pub pct: u8,
    pub adkim: Alignment,
    pub aspf: Alignment,
    pub rua: Vec<String>,
    pub ruf: Vec<String>,
    /// What the record says about the domain checked: `sp` when the record is inherited
    /// from the organisational domain and has one, `p` otherwise.
    pub applied: Disposition,
    /// Tags with invalid values or unknown tags: receivers ignore them (§6.3).
    #[serde(flatten)]
    pub problems: Problems,
}

/// What was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum DmarcRecordState {
    /// No record at the domain nor at its organisational domain.
    None,
    /// One valid record at `at`.
    Found {
        at: String,
        text: String,
        policy: DmarcPolicy,
    },
    /// Several records at `at`: receivers apply none (§6.6.3).
    Several { at: String, texts: Vec<String> },
    /// A record at `at` that is not a valid DMARC record (§6.6.3: ignored).
    Malformed {
        at: String,
        text: String,
        /// In English; `problem_key` is the same in no language.
        problem: String,
        problem_key: Problem,
    },
    /// The query failed: nothing known.
    LookupFailed { at: String, outcome: String },
}

/// The DMARC facts of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DmarcCheck {
    pub domain: String,
    /// The registrable domain by the public suffix list (RFC 7489 §3.2).
    pub organisational_domain: String,
    pub record: DmarcRecordState,
    /// Whether the record was found at the organisational domain, not the domain itself.
    pub inherited: bool,
    pub destinations: Vec<ReportDestination>,
    pub lookups: Vec<Lookup>,
}

/// The organisational domain: the public suffix plus one label (§3.2).
#[must_use]
pub fn organisational_domain(domain: &str) -> String {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    psl::domain_str(&domain).unwrap_or(&domain).to_string()
}

fn is_dmarc_record(text: &str) -> bool {
    let mut tags = text.split(';');
    tags.next().is_some_and(|first| {
        let mut parts = first.splitn(2, '=');
        parts.next().map(str::trim) == Some("v") && parts.next().map(str::trim) == Some("DMARC1")
    })
}

/// Parses a record that starts with `v=DMARC1`. `inherited` tells whether `sp` applies.
pub fn parse(text: &str, inherited: bool) -> Result<DmarcPolicy, Problem> {
    let mut p = None;
    let mut p_invalid = None;
    let mut sp = None;
    let mut pct = 100;
    let mut adkim = Alignment::Relaxed;
    let mut aspf = Alignment::Relaxed;
    let mut rua = Vec::new();
    let mut ruf = Vec::new();
    let mut problems = Problems::default();
    for (index, tag) in super::tag_list(text) {
        let (name, value) = match tag {
            Ok(pair) => pair,
            Err(field) => {
                problems.push(Problem::about(ProblemKey::NotNameValue, field));
                continue;
            }
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "v" if index == 0 => {}
            "p" if index == 1 => match Disposition::parse(value) {
                Some(d) => p = Some(d),
                None => p_invalid = Some(value.to_string()),
            },
            "p" => return Err(Problem::new(ProblemKey::DmarcPNotSecond)),
            "sp" => match Disposition::parse(value) {
                Some(d) => sp = Some(d),
                None => problems.push(Problem::about(ProblemKey::DmarcSpInvalid, value)),
            },
            "pct" => match value.parse::<u8>() {
                Ok(n) if n <= 100 => pct = n,
                _ => problems.push(Problem::about(ProblemKey::DmarcPctInvalid, value)),
            },
            "adkim" | "aspf" => {
                let mode = match value.to_ascii_lowercase().as_str() {
                    "r" => Alignment::Relaxed,
                    "s" => Alignment::Strict,
                    _ => {
                        problems.push(Problem::about(
                            ProblemKey::DmarcAlignmentInvalid,
                            &format!("{name}={value}"),
                        ));
                        continue;
                    }
                };
                if name == "adkim" {
                    adkim = mode;
                } else {
                    aspf = mode;
                }
            }
            "rua" => rua = uris(value),
            "ruf" => ruf = uris(value),
            "fo" | "rf" | "ri" | "np" | "psd" | "t" => {}
            other => problems.push(Problem::about(ProblemKey::UnknownTag, other)),
        }
    }
    let p = match (p, p_invalid) {
        (Some(p), _) => p,
        // §6.6.3: without a valid p, a record with a valid rua is read as p=none.
        (None, invalid) if rua.iter().any(|u| mailto_domain(u).is_some()) => {
            problems.push(match invalid {
                Some(v) => Problem::about(ProblemKey::DmarcPInvalidReadAsNone, &v),
                None => Problem::new(ProblemKey::DmarcPMissingReadAsNone),
            });
            Disposition::None
        }
        (None, Some(v)) => return Err(Problem::about(ProblemKey::DmarcPInvalid, &v)),
        (None, None) => return Err(Problem::new(ProblemKey::DmarcPMissing)),
    };
    let applied = if inherited { sp.unwrap_or(p) } else { p };
    Ok(DmarcPolicy {
        p,
        sp,
        pct,
        adkim,
        aspf,
        rua,
        ruf,
        applied,
        problems,
    })
}

fn uris(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
        .collect()
}

/// The domain of a `mailto:` URI with an optional `!size` suffix (§6.2), if it is one.
#[must_use]
pub fn mailto_domain(uri: &str) -> Option<String> {
    let rest = uri
        .get(..7)?
        .eq_ignore_ascii_case("mailto:")
        .then(|| &uri[7..])?;
    let address = match rest.rsplit_once('!') {
        Some((address, size)) => {
            let digits = size.trim_end_matches(['k', 'm', 'g', 't', 'K', 'M', 'G', 'T']);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            address
        }
        None => rest,
    };
    let (local, domain) = address.rsplit_once('@')?;
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    (!local.is_empty()
        && domain.contains('.')
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'))
    .then_some(domain)
}

fn dmarc_texts(lookup: &Lookup) -> Result<Vec<String>, String> {
    match &lookup.outcome {
        Outcome::Answer { records } => Ok(records
            .iter()
            .filter_map(|r| match r {
                Rdata::Txt(t) if is_dmarc_record(t) => Some(t.clone()),
                _ => None,
            })
            .collect()),
        Outcome::NxDomain | Outcome::NoData => Ok(Vec::new()),
        Outcome::ServFail => Err("SERVFAIL".into()),
        Outcome::Refused => Err("REFUSED".into()),
        Outcome::Timeout => Err("timeout".into()),
        Outcome::Unreachable { reason } | Outcome::Failed { reason } => Err(reason.clone()),
    }
}

/// Finds the policy of `domain` (§6.6.3) and checks its external report destinations.
pub async fn check(dns: &impl Dns, domain: &str) -> DmarcCheck {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let organisational = organisational_domain(&domain);
    let mut lookups = Vec::new();
    let mut at = domain.clone();
    let mut lookup = dns.query(&format!("_dmarc.{domain}"), QueryType::Txt).await;
    let mut texts = dmarc_texts(&lookup);
    let mut inherited = false;
    if matches!(&texts, Ok(t) if t.is_empty()) && organisational != domain {
        lookups.push(lookup);
        at.clone_from(&organisational);
        lookup = dns
            .query(&format!("_dmarc.{organisational}"), QueryType::Txt)
            .await;
        texts = dmarc_texts(&lookup);
        inherited = true;
    }
    lookups.push(lookup);
    let record = match texts {
        Err(outcome) => DmarcRecordState::LookupFailed {
            at: at.clone(),
            outcome,
        },
        Ok(texts) => match texts.as_slice() {
            [] => {
                inherited = false;
                DmarcRecordState::None
            }
            [text] => match parse(text, inherited) {
                Ok(policy) => DmarcRecordState::Found {
                    at: at.clone(),
                    text: text.clone(),
                    policy,
                },
                Err(problem) => DmarcRecordState::Malformed {
                    at: at.clone(),
                    text: text.clone(),
                    problem: problem.text(Lang::En),
                    problem_key: problem,
                },
            },
            _ => DmarcRecordState::Several {
                at: at.clone(),
                texts,
            },
        },
    };
    let mut destinations = Vec::new();
    if let DmarcRecordState::Found { policy, .. } = &record {
        let own = organisational_domain(&at);
        let tagged = policy
            .rua
            .iter()
            .map(|u| ("rua", u))
            .chain(policy.ruf.iter().map(|u| ("ruf", u)));
        for (tag, uri) in tagged {
            let target = mailto_domain(uri);
            let external = target
                .as_deref()
                .is_some_and(|d| organisational_domain(d) != own);
            destinations.push(ReportDestination {
                tag: tag.into(),
                uri: uri.clone(),
                valid: target.is_some(),
                domain: target,
                external,
                authorised: None,
            });
        }
        // §7.1: each external destination is asked, all at once.
        let asked = join_all(
            destinations
                .iter()
                .filter(|d| d.external)
                .filter_map(|d| d.domain.clone())
                .map(|target| {
                    let name = format!("{at}._report._dmarc.{target}");
                    async move { (target, dns.query(&name, QueryType::Txt).await) }
                }),
        )
        .await;
        for (target, lookup) in asked {
            let authorised = dmarc_texts(&lookup).ok().map(|t| !t.is_empty());
            for destination in &mut destinations {
                if destination.external && destination.domain.as_deref() == Some(&target) {
                    destination.authorised = authorised;
                }
            }
            lookups.push(lookup);
        }
    }
    DmarcCheck {
        domain,
        organisational_domain: organisational,
        record,
        inherited,
        destinations,
        lookups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_record_is_read_tag_by_tag() {
        let policy = parse(
            "v=DMARC1; p=reject; sp=quarantine; pct=50; adkim=s; aspf=r; rua=mailto:a@example.org,mailto:b@example.net!10m; ruf=mailto:f@example.org",
            true,
        )
        .unwrap();
        assert_eq!(policy.p, Disposition::Reject);
        assert_eq!(policy.applied, Disposition::Quarantine);
        assert_eq!(policy.pct, 50);
        assert_eq!(policy.adkim, Alignment::Strict);
        assert_eq!(policy.rua.len(), 2);
        assert!(policy.problems.is_empty());
    }

    #[test]
    fn a_missing_or_bad_policy_is_an_error_unless_rua_saves_it() {
        assert!(parse("v=DMARC1; pct=100", false).is_err());
        assert!(parse("v=DMARC1; p=block", false).is_err());
        let saved = parse("v=DMARC1; p=block; rua=mailto:d@example.org", false).unwrap();
        assert_eq!(saved.p, Disposition::None);
        assert_eq!(saved.problems.len(), 1);
        assert!(parse("v=DMARC1; pct=5; p=none", false).is_err());
    }

    #[test]
    fn bad_values_are_problems_not_errors() {
        let policy = parse("v=DMARC1; p=none; pct=150; adkim=x; foo=bar", false).unwrap();
        assert_eq!(policy.pct, 100);
        assert_eq!(policy.problems.len(), 3);
    }

    #[test]
    fn mailto_uris_give_their_domain() {
        assert_eq!(
            mailto_domain("mailto:dmarc@Reports.Example.NET!50m").as_deref(),
            Some("reports.example.net")
        );
        assert_eq!(mailto_domain("https://example.org/r"), None);
        assert_eq!(mailto_domain("mailto:nobody"), None);
        assert_eq!(mailto_domain("mailto:a@example.org!x"), None);
    }

    #[test]
    fn the_organisational_domain_comes_from_the_public_suffix_list() {
        assert_eq!(organisational_domain("mail.example.co.uk"), "example.co.uk");
        assert_eq!(organisational_domain("a.b.example.org"), "example.org");
        assert_eq!(organisational_domain("news.sender.test"), "sender.test");
    }
}
