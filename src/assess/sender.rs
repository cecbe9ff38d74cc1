//! The sender's facts → findings, and the checklist of the big receivers' published
//! requirements. Each finding names the cause (`kb/causes.toml`) of the replies it brings
//! and those replies, so that the report says which refusals to expect and `explain` of
//! such a reply can send the reader here.

use crate::dnsbl::{Blocklist, DnsblCheck};
use crate::kb::{self, CauseRef, Evidence, EvidenceKind, FindingKind};
use crate::policy::dkim::DkimKeyState;
use crate::policy::dmarc::{Disposition, DmarcRecordState};
use crate::policy::problem::{Problem, ProblemKey};
use crate::policy::spf::{SpfRecordState, SpfVerdict};
use crate::report::sender::{Requirement, Scope, SenderReport, Status};
use crate::report::{Finding, Severity};

/// Gmail: unauthenticated (no SPF or DKIM pass, or DMARC), RFC 7372 style.
const GMAIL_UNAUTHENTICATED: &str = "550 5.7.26";
/// Gmail: SPF did not pass for the sending address.
const GMAIL_SPF: &str = "550 5.7.27";
/// Gmail: the sending address has no PTR record.
const GMAIL_NO_PTR: &str = "550 5.7.25";
/// Gmail: the PTR record does not match (forward-confirmed reverse DNS fails).
const GMAIL_PTR_MISMATCH: &str = "421 4.7.23";
/// Yahoo/AOL: unauthenticated, or not meeting the bulk sender requirements.
const YAHOO_UNAUTHENTICATED: &str = "550 5.7.9";
/// Microsoft (Outlook.com): high-volume sender without SPF, DKIM and DMARC.
const MICROSOFT_AUTH: &str = "550 5.7.515";
/// RFC 7208 §8.4 / RFC 7372: SPF fail.
const SPF_FAIL: &str = "550 5.7.23";
/// RFC 7208 §8.6: SPF temperror.
const SPF_TEMPERROR: &str = "451 4.4.3";
/// RFC 7208 §8.7: SPF permerror.
const SPF_PERMERROR: &str = "550 5.5.2";
/// RFC 7489 §10.3 receivers reject failing mail with a 5.7.1.
const DMARC_REJECT: &str = "550 5.7.1";
/// Postfix `reject_unknown_client_hostname` and similar.
const UNKNOWN_CLIENT: &str = "450 4.7.1";

/// What the assessment gives.
#[derive(Debug, Clone, PartialEq)]
pub struct SenderAssessment {
    pub findings: Vec<Finding>,
    pub requirements: Vec<Requirement>,
    /// Nothing reliable is known: the resolver failed on the sender's own records.
    pub incomplete: bool,
}

/// The cause `id` of `kb/causes.toml`, decided by a check of the sender's records.
fn cause(id: &'static str) -> CauseRef {
    let parent = kb::cause_facts()
        .iter()
        .find(|c| c.id == id)
        .and_then(|c| c.parent);
    CauseRef {
        id,
        parent,
        evidence: Evidence {
            by: EvidenceKind::Check,
            code: None,
            words: None,
            signature: None,
            command: None,
        },
    }
}

/// A finding with its cause and the replies it brings (the first is its code).
fn finding(
    kind: FindingKind,
    severity: Severity,
    cause_id: Option<&'static str>,
    replies: &[&str],
) -> Finding {
    let mut finding = Finding::new(kind, severity).with("replies", replies.join(", "));
    if let Some(first) = replies.first() {
        let mut parts = first.split(' ');
        let code = parts.next().and_then(|c| c.parse().ok());
        finding = finding.with_codes(code, parts.next());
    }
    finding.cause = cause_id.map(cause);
    finding
}

/// Judges the sender's facts.
#[must_use]
pub fn assess(
    report: &SenderReport,
    dnsbl: &DnsblCheck,
    lists: &[Blocklist],
    selectors_given: bool,
) -> SenderAssessment {
    let mut findings = Vec::new();
    let domain = report.spf.domain.as_str();
    let mut incomplete = false;

    // SPF: the record, then each address.
    match &report.spf.record {
        SpfRecordState::None => findings.push(
            finding(
                FindingKind::SenderSpfNone,
                Severity::Warning,
                Some("auth-failed"),
                &[GMAIL_UNAUTHENTICATED, YAHOO_UNAUTHENTICATED],
            )
            .with("domain", domain)
            .about(domain),
        ),
        SpfRecordState::Several { texts } => findings.push(
            finding(
                FindingKind::SenderSpfSeveral,
                Severity::Permanent,
                Some("spf-failed"),
                &[SPF_PERMERROR, GMAIL_UNAUTHENTICATED],
            )
            .with("domain", domain)
            .with("count", texts.len().to_string())
            .about(domain),
        ),
        SpfRecordState::Malformed { text } => findings.push(
            finding(
                FindingKind::SenderSpfMalformed,
                Severity::Permanent,
                Some("spf-failed"),
                &[SPF_PERMERROR, GMAIL_UNAUTHENTICATED],
            )
            .with("domain", domain)
            .with("record", text)
            .about(domain),
        ),
        SpfRecordState::LookupFailed { .. } => incomplete = true,
        SpfRecordState::Found { .. } | SpfRecordState::InvalidDomain => {}
    }
    let record_broken = matches!(
        report.spf.record,
        SpfRecordState::Several { .. } | SpfRecordState::Malformed { .. } | SpfRecordState::None
    );
    for evaluation in &report.spf.evaluations {
        let address = evaluation.ip.to_string();
        let (kind, severity, cause_id, replies): (_, _, _, &[&str]) = match evaluation.result {
            SpfVerdict::Pass | SpfVerdict::None => continue,
            SpfVerdict::Permerror if record_broken => continue,
            SpfVerdict::Fail => (
                FindingKind::SenderSpfFail,
                Severity::Permanent,
                "spf-failed",
                &[GMAIL_SPF, SPF_FAIL],
            ),
            SpfVerdict::Softfail | SpfVerdict::Neutral => (
                FindingKind::SenderSpfNotPass,
                Severity::Warning,
                "spf-failed",
                &[GMAIL_SPF],
            ),
            SpfVerdict::Permerror => (
                FindingKind::SenderSpfPermerror,
                Severity::Permanent,
                "spf-failed",
                &[SPF_PERMERROR, GMAIL_UNAUTHENTICATED],
            ),
            SpfVerdict::Temperror => (
                FindingKind::SenderSpfTemperror,
                Severity::Transient,
                "spf-failed",
                &[SPF_TEMPERROR],
            ),
        };
        let decided_by = evaluation
            .chain
            .last()
            .map(|s| {
                if s.term.is_empty() {
                    s.domain.clone()
                } else {
                    format!("{}: {}", s.domain, s.term)
                }
            })
            .or_else(|| evaluation.cause.clone())
            .unwrap_or_default();
        findings.push(
            finding(kind, severity, Some(cause_id), replies)
                .with("domain", domain)
                .with("address", &address)
                .with("result", evaluation.result.as_str())
                .with("decided_by", decided_by)
                .with("problem", evaluation.cause.clone().unwrap_or_default())
                .about(address),
        );
    }

    // DMARC.
    let dmarc_at = |at: &str| at.to_string();
    let policy = match &report.dmarc.record {
        DmarcRecordState::None => {
            findings.push(
                finding(
                    FindingKind::SenderDmarcNone,
                    Severity::Warning,
                    Some("auth-failed"),
                    &[GMAIL_UNAUTHENTICATED, YAHOO_UNAUTHENTICATED, MICROSOFT_AUTH],
                )
                .with("domain", &report.dmarc.domain)
                .about(&report.dmarc.domain),
            );
            None
        }
        DmarcRecordState::Several { at, texts } => {
            findings.push(
                finding(
                    FindingKind::SenderDmarcSeveral,
                    Severity::Warning,
                    Some("auth-failed"),
                    &[GMAIL_UNAUTHENTICATED, YAHOO_UNAUTHENTICATED, MICROSOFT_AUTH],
                )
                .with("name", format!("_dmarc.{at}"))
                .with("count", texts.len().to_string())
                .about(dmarc_at(at)),
            );
            None
        }
        DmarcRecordState::Malformed {
            at,
            text,
            problem_key,
            ..
        } => {
            findings.push(
                finding(
                    FindingKind::SenderDmarcMalformed,
                    Severity::Warning,
                    Some("auth-failed"),
                    &[GMAIL_UNAUTHENTICATED, YAHOO_UNAUTHENTICATED, MICROSOFT_AUTH],
                )
                .with("name", format!("_dmarc.{at}"))
                .with("record", text)
                .with_problems("problem", std::slice::from_ref(problem_key))
                .about(dmarc_at(at)),
            );
            None
        }
        DmarcRecordState::LookupFailed { .. } => {
            incomplete = true;
            None
        }
        DmarcRecordState::Found { at, policy, .. } => {
            if report.dmarc.inherited {
                findings.push(
                    Finding::new(FindingKind::SenderDmarcInherited, Severity::Info)
                        .with("domain", &report.dmarc.domain)
                        .with("organisational", at)
                        .with("policy", policy.applied.as_str())
                        .about(&report.dmarc.domain),
                );
            }
            if policy.applied == Disposition::None {
                findings.push(
                    Finding::new(FindingKind::SenderDmarcMonitoring, Severity::Info)
                        .with("domain", &report.dmarc.domain)
                        .about(&report.dmarc.domain),
                );
            }
            for problem in policy.problems.iter() {
                findings.push(
                    Finding::new(FindingKind::SenderDmarcTagProblem, Severity::Warning)
                        .with("name", format!("_dmarc.{at}"))
                        .with_problems("problem", std::slice::from_ref(problem))
                        .about(dmarc_at(at)),
                );
            }
            Some(policy)
        }
    };
    for destination in &report.dmarc.destinations {
        if !destination.valid {
            findings.push(
                Finding::new(FindingKind::SenderDmarcBadUri, Severity::Warning)
                    .with("tag", &destination.tag)
                    .with("uri", &destination.uri)
                    .about(&destination.uri),
            );
        } else if destination.external && destination.authorised == Some(false) {
            let target = destination.domain.clone().unwrap_or_default();
            let at = match &report.dmarc.record {
                DmarcRecordState::Found { at, .. } => at.clone(),
                _ => report.dmarc.domain.clone(),
            };
            findings.push(
                Finding::new(
                    FindingKind::SenderDmarcExternalUnauthorised,
                    Severity::Warning,
                )
                .with("tag", &destination.tag)
                .with("uri", &destination.uri)
                .with("name", format!("{at}._report._dmarc.{target}"))
                .about(&destination.uri),
            );
        }
    }

    // DKIM, per selector.
    let mut usable_keys = 0;
    for selector in &report.dkim {
        let base = |kind, severity, cause_id: Option<&'static str>| {
            finding(kind, severity, cause_id, &[GMAIL_UNAUTHENTICATED])
                .with("selector", &selector.selector)
                .with("name", &selector.name)
                .about(&selector.name)
        };
        match &selector.key {
            DkimKeyState::None => findings.push(base(
                FindingKind::SenderDkimMissing,
                Severity::Warning,
                Some("dkim-failed"),
            )),
            DkimKeyState::Several { texts } => findings.push(
                base(
                    FindingKind::SenderDkimMalformed,
                    Severity::Warning,
                    Some("dkim-failed"),
                )
                .with_problems(
                    "problem",
                    &[Problem::about(
                        ProblemKey::DkimSeveral,
                        &texts.len().to_string(),
                    )],
                ),
            ),
            DkimKeyState::Malformed { problem_key, .. } => findings.push(
                base(
                    FindingKind::SenderDkimMalformed,
                    Severity::Warning,
                    Some("dkim-failed"),
                )
                .with_problems("problem", std::slice::from_ref(problem_key)),
            ),
            DkimKeyState::LookupFailed { .. } => incomplete = true,
            DkimKeyState::Found { key, .. } => {
                if key.revoked {
                    findings.push(base(
                        FindingKind::SenderDkimRevoked,
                        Severity::Warning,
                        Some("dkim-failed"),
                    ));
                    continue;
                }
                let bits = key.bits.unwrap_or_default();
                if key.key_type == "rsa" && bits < 1024 {
                    findings.push(
                        base(
                            FindingKind::SenderDkimWeakKey,
                            Severity::Warning,
                            Some("dkim-failed"),
                        )
                        .with("bits", bits.to_string()),
                    );
                    continue;
                }
                usable_keys += 1;
                if key.key_type == "rsa" && bits < 2048 {
                    findings.push(
                        Finding::new(FindingKind::SenderDkimShortKey, Severity::Info)
                            .with("selector", &selector.selector)
                            .with("bits", bits.to_string())
                            .about(&selector.name),
                    );
                }
                if key.testing {
                    findings.push(
                        Finding::new(FindingKind::SenderDkimTesting, Severity::Warning)
                            .with("selector", &selector.selector)
                            .with("name", &selector.name)
                            .about(&selector.name),
                    );
                }
            }
        }
    }

    // Reverse DNS and the HELO name.
    for reverse in &report.reverse_dns {
        let address = reverse.address.to_string();
        if reverse.lookup_failed {
            incomplete = true;
        } else if reverse.names.is_empty() {
            findings.push(
                finding(
                    FindingKind::SenderPtrMissing,
                    Severity::Permanent,
                    Some("no-reverse-dns"),
                    &[GMAIL_NO_PTR, UNKNOWN_CLIENT],
                )
                .with("address", &address)
                .about(&address),
            );
        } else if !reverse.forward_confirmed {
            findings.push(
                finding(
                    FindingKind::SenderPtrMismatch,
                    Severity::Transient,
                    Some("no-reverse-dns"),
                    &[GMAIL_PTR_MISMATCH, UNKNOWN_CLIENT],
                )
                .with("address", &address)
                .with("names", reverse.names.join(", "))
                .about(&address),
            );
        }
        if !reverse.generic.is_empty() {
            findings.push(
                finding(
                    FindingKind::SenderPtrGeneric,
                    Severity::Warning,
                    Some("bad-reputation"),
                    &[],
                )
                .with("address", &address)
                .with("names", reverse.generic.join(", "))
                .about(&address),
            );
        }
    }
    if let Some(helo) = &report.helo {
        if !helo.lookup_failed && !helo.not_matching.is_empty() {
            let not_matching: Vec<String> =
                helo.not_matching.iter().map(ToString::to_string).collect();
            findings.push(
                finding(
                    FindingKind::SenderHeloMismatch,
                    Severity::Warning,
                    Some("bad-helo"),
                    &["450 4.7.1"],
                )
                .with("helo", &helo.name)
                .with("address", not_matching.join(", "))
                .about(&helo.name),
            );
        }
    }

    // Blocklists: the probe's own judgement of a sender's listing.
    findings.extend(crate::assess::dnsbl::dnsbl_findings(
        dnsbl,
        &report
            .addresses
            .iter()
            .map(|a| (*a, crate::assess::Checked::Sender))
            .collect::<Vec<_>>(),
        lists,
    ));

    // Authentication as a whole: each address needs SPF to pass or a DKIM signature.
    let spf_pass_all = !report.spf.evaluations.is_empty()
        && report
            .spf
            .evaluations
            .iter()
            .all(|e| e.result == SpfVerdict::Pass);
    let dkim_ok = usable_keys > 0;
    let unauthenticated: Vec<String> = report
        .spf
        .evaluations
        .iter()
        .filter(|e| e.result != SpfVerdict::Pass)
        .map(|e| e.ip.to_string())
        .collect();
    if !unauthenticated.is_empty() && !dkim_ok && !incomplete {
        let severity = if policy.is_some_and(|p| p.applied == Disposition::Reject) {
            Severity::Permanent
        } else {
            Severity::Warning
        };
        let mut replies = vec![GMAIL_UNAUTHENTICATED, YAHOO_UNAUTHENTICATED];
        if policy.is_some_and(|p| p.applied != Disposition::None) {
            replies.push(DMARC_REJECT);
        }
        findings.push(
            finding(
                FindingKind::SenderUnauthenticated,
                severity,
                Some(if policy.is_some_and(|p| p.applied != Disposition::None) {
                    "dmarc-rejected"
                } else {
                    "auth-failed"
                }),
                &replies,
            )
            .with("domain", domain)
            .with("address", unauthenticated.join(", "))
            .with(
                "policy",
                policy.map_or("", |p| p.applied.as_str()).to_string(),
            )
            .about(domain),
        );
    }

    let requirements = checklist(report, spf_pass_all, dkim_ok, selectors_given);
    SenderAssessment {
        findings,
        requirements,
        incomplete,
    }
}

fn status(pass: bool) -> Status {
    if pass { Status::Pass } else { Status::Fail }
}

/// The published requirements of Gmail, Yahoo/AOL and Microsoft, as of 2025 (docs/sender.md
/// cites each page). The From domain is taken to be the domain checked: alignment then
/// holds when SPF passes for it or a key of the domain signs.
fn checklist(
    report: &SenderReport,
    spf_pass_all: bool,
    dkim_ok: bool,
    selectors_given: bool,
) -> Vec<Requirement> {
    let dkim = if selectors_given {
        status(dkim_ok)
    } else {
        Status::Unknown
    };
    let either = if spf_pass_all || dkim_ok {
        Status::Pass
    } else if selectors_given {
        Status::Fail
    } else {
        Status::Unknown
    };
    let both = match (spf_pass_all, dkim) {
        (false, _) => Status::Fail,
        (true, d) => d,
    };
    let fcrdns = status(report.reverse_dns.iter().all(|r| r.forward_confirmed));
    let dmarc = match &report.dmarc.record {
        DmarcRecordState::Found { .. } => Status::Pass,
        DmarcRecordState::LookupFailed { .. } => Status::Unknown,
        _ => Status::Fail,
    };
    let aligned = match dmarc {
        Status::Pass => either,
        other => other,
    };
    let line =
        |id, receivers: &[&'static str], scope, status, replies: &[&'static str]| Requirement {
            id,
            receivers: receivers.to_vec(),
            scope,
            status,
            replies: replies.to_vec(),
            title: String::new(),
        };
    vec![
        line(
            FindingKind::RequirementSpfOrDkim,
            &["gmail", "yahoo"],
            Scope::All,
            either,
            &[GMAIL_UNAUTHENTICATED, YAHOO_UNAUTHENTICATED],
        ),
        line(
            FindingKind::RequirementFcrdns,
            &["gmail", "yahoo"],
            Scope::All,
            fcrdns,
            &[GMAIL_NO_PTR, GMAIL_PTR_MISMATCH],
        ),
        line(
            FindingKind::RequirementSpfAndDkim,
            &["gmail", "yahoo", "microsoft"],
            Scope::Bulk,
            both,
            &[GMAIL_UNAUTHENTICATED, YAHOO_UNAUTHENTICATED, MICROSOFT_AUTH],
        ),
        line(
            FindingKind::RequirementDmarc,
            &["gmail", "yahoo", "microsoft"],
            Scope::Bulk,
            dmarc,
            &[GMAIL_UNAUTHENTICATED, YAHOO_UNAUTHENTICATED, MICROSOFT_AUTH],
        ),
        line(
            FindingKind::RequirementAlignment,
            &["gmail", "yahoo", "microsoft"],
            Scope::Bulk,
            aligned,
            &[GMAIL_UNAUTHENTICATED, YAHOO_UNAUTHENTICATED, MICROSOFT_AUTH],
        ),
    ]
}
