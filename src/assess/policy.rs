//! What the transport security policy means for senders that enforce it: DNSSEC, DANE
//! against the chain each exchanger presented, MTA-STS against the exchangers and their
//! certificates, TLS-RPT. Severities follow what an enforcing sender does: a mismatch that
//! makes it queue mail is transient, a policy it ignores is a warning.

use crate::dns::mx::MxHost;
use crate::kb::FindingKind;
use crate::policy::dane::{self, ChainMatch};
use crate::policy::https::Fetch;
use crate::policy::mta_sts::{Mode, Policy, RecordProblem};
use crate::policy::problem::{Problem, ProblemKey};
use crate::policy::transport::{Dnssec, DomainPolicy, HostTlsa};
use crate::report::{Finding, Severity, Transport};
use crate::smtp::{Session, TlsProblem};

/// The findings of the transport security policy of `domain`.
#[must_use]
pub fn policy_findings(
    domain: &str,
    transport: &Transport,
    hosts: &[MxHost],
    sessions: &[Session],
) -> Vec<Finding> {
    let policy = &transport.domain;
    let tlsa = transport.tlsa.as_slice();
    let mut findings = Vec::new();
    match transport.dnssec {
        Dnssec::Secure => findings.push(
            Finding::new(FindingKind::DnssecSigned, Severity::Ok)
                .with("domain", domain)
                .about(domain),
        ),
        Dnssec::Bogus => findings.push(
            Finding::new(FindingKind::DnssecBogus, Severity::Transient)
                .with("name", domain)
                .with("query_type", "MX")
                .with_codes(None, Some("4.4.3"))
                .about(domain),
        ),
        Dnssec::Insecure | Dnssec::Unknown => {}
    }
    for host in tlsa {
        findings.extend(dane_finding(host, sessions));
    }
    let mta_sts = mta_sts_findings(domain, policy, hosts, sessions);
    let uses_mta_sts = policy.mta_sts.record.is_some();
    findings.extend(mta_sts);
    findings.extend(tls_rpt_findings(
        domain,
        policy,
        uses_mta_sts,
        tlsa.iter()
            .any(|t| t.dnssec == Dnssec::Secure && !t.records.is_empty()),
    ));
    findings
}

fn records_text(host: &HostTlsa) -> String {
    host.records
        .iter()
        .map(dane::Tlsa::parameters)
        .collect::<Vec<_>>()
        .join(", ")
}

fn dane_finding(host: &HostTlsa, sessions: &[Session]) -> Option<Finding> {
    let about = |kind, severity| {
        Finding::new(kind, severity)
            .with("host", &host.host)
            .with("name", &host.name)
            .with("records", records_text(host))
            .about(host.host.clone())
    };
    if host.dnssec == Dnssec::Bogus {
        return Some(
            about(FindingKind::DaneBogus, Severity::Transient).with_codes(None, Some("4.7.5")),
        );
    }
    if host.records.is_empty() {
        return None;
    }
    if host.dnssec != Dnssec::Secure {
        return Some(about(FindingKind::DaneUnsigned, Severity::Warning));
    }
    let host_sessions: Vec<&Session> = sessions.iter().filter(|s| s.host == host.host).collect();
    let tls = host_sessions.iter().find_map(|s| s.tls.as_ref());
    let Some(tls) = tls else {
        let said_ehlo_without_starttls = host_sessions.iter().any(|s| {
            !s.extensions.is_empty()
                && !s
                    .extensions
                    .iter()
                    .any(|e| e.eq_ignore_ascii_case("STARTTLS"))
        });
        let handshake_failed = host_sessions.iter().any(|s| s.plain_retry);
        if said_ehlo_without_starttls || handshake_failed {
            return Some(
                about(FindingKind::DaneNoStarttls, Severity::Transient)
                    .with_codes(None, Some("4.7.5")),
            );
        }
        return Some(about(FindingKind::DaneNotChecked, Severity::Info));
    };
    let name_matches = !tls.problems.contains(&TlsProblem::NameMismatch);
    match dane::match_chain(&host.records, &tls.chain_der, name_matches, &host.host) {
        ChainMatch::Valid { parameters } => {
            Some(about(FindingKind::DaneValid, Severity::Ok).with("parameters", parameters))
        }
        ChainMatch::NoUsableRecord => Some(about(FindingKind::DaneUnusable, Severity::Warning)),
        ChainMatch::Mismatch => {
            let suggested = tls
                .chain_der
                .first()
                .and_then(|leaf| dane::dane_ee_for(leaf))
                .map(|t| format!("{} {}", t.parameters(), t.data))
                .unwrap_or_default();
            Some(
                about(FindingKind::DaneMismatch, Severity::Transient)
                    .with("suggested", suggested)
                    .with_codes(None, Some("4.7.5")),
            )
        }
    }
}

fn mode_name(mode: Option<Mode>) -> &'static str {
    match mode {
        Some(Mode::Enforce) => "enforce",
        Some(Mode::Testing) => "testing",
        Some(Mode::None) => "none",
        None => "",
    }
}

fn mta_sts_findings(
    domain: &str,
    facts: &DomainPolicy,
    hosts: &[MxHost],
    sessions: &[Session],
) -> Vec<Finding> {
    let sts = &facts.mta_sts;
    let about = |kind, severity| {
        Finding::new(kind, severity)
            .with("domain", domain)
            .about(domain)
    };
    if let Some(problem) = &sts.record_problem {
        let finding = about(FindingKind::MtaStsRecordInvalid, Severity::Warning);
        return vec![match problem {
            RecordProblem::Missing => return Vec::new(),
            RecordProblem::Several(n) => finding.with("problem", format!("{n} × v=STSv1")),
            RecordProblem::Malformed(detail) => finding
                .with("problem", "v=STSv1")
                .with_problems("detail", std::slice::from_ref(detail)),
        }];
    }
    let Some(fetch) = &sts.fetch else {
        return Vec::new();
    };
    let url = fetch.url.as_str();
    let unavailable = |reason: &str, detail: String| {
        vec![
            about(FindingKind::MtaStsPolicyUnavailable, Severity::Warning)
                .with("url", url)
                .with("reason", reason)
                .with("detail", detail),
        ]
    };
    match &fetch.fetch {
        Fetch::NoAddress => return unavailable("DNS", format!("mta-sts.{domain} A/AAAA")),
        Fetch::Connect { reason } => return unavailable("TCP", reason.clone()),
        Fetch::Tls { reason } => return unavailable("TLS", reason.clone()),
        Fetch::Protocol { reason } => return unavailable("HTTP", reason.clone()),
        Fetch::Timeout => return unavailable("HTTPS", String::new()),
        Fetch::Response { code, location, .. } if *code != 200 => {
            let detail = match location {
                Some(location) => format!("HTTP {code} → {location}"),
                None => format!("HTTP {code}"),
            };
            return unavailable("HTTP", detail);
        }
        Fetch::Response { content_type, .. }
            if !content_type
                .as_deref()
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/plain")) =>
        {
            return unavailable(
                "HTTP",
                format!("Content-Type: {}", content_type.clone().unwrap_or_default()),
            );
        }
        Fetch::Response { .. } => {}
    }
    let Some(policy) = &sts.policy else {
        return Vec::new();
    };
    if !policy.is_valid() {
        return vec![
            about(FindingKind::MtaStsPolicyInvalid, Severity::Warning)
                .with("url", url)
                .with_problems("problems", &policy.problems),
        ];
    }
    let mode = mode_name(policy.mode);
    if policy.mode != Some(Mode::Enforce) {
        return vec![about(FindingKind::MtaStsTesting, Severity::Info).with("mode", mode)];
    }
    let mut findings = mx_against_policy(domain, policy, hosts, sessions);
    if findings.is_empty() {
        findings.push(
            about(FindingKind::MtaStsValid, Severity::Ok)
                .with("mode", mode)
                .with("url", url)
                .with(
                    "id",
                    sts.record
                        .as_ref()
                        .map(|r| r.id.clone())
                        .unwrap_or_default(),
                )
                .with(
                    "max_age",
                    policy.max_age.map(|a| a.to_string()).unwrap_or_default(),
                ),
        );
    }
    findings
}

/// Every exchanger against an enforced policy: listed, and presenting a certificate a
/// strict sender accepts.
fn mx_against_policy(
    domain: &str,
    policy: &Policy,
    hosts: &[MxHost],
    sessions: &[Session],
) -> Vec<Finding> {
    let usable: Vec<&MxHost> = hosts.iter().filter(|h| !h.addresses.is_empty()).collect();
    let listed = usable.iter().filter(|h| policy.allows(&h.host)).count();
    let mut findings = Vec::new();
    for host in &usable {
        let about = |kind, severity| {
            Finding::new(kind, severity)
                .with("domain", domain)
                .with("host", &host.host)
                .with("mode", "enforce")
                .about(host.host.clone())
        };
        if !policy.allows(&host.host) {
            // With another exchanger listed, enforcing senders still deliver, there.
            let severity = if listed == 0 {
                Severity::Transient
            } else {
                Severity::Warning
            };
            findings.push(
                about(FindingKind::MtaStsMxNotListed, severity)
                    .with("patterns", policy.mx.join(", "))
                    .with_codes(None, Some("4.7.5")),
            );
            continue;
        }
        let problems: Vec<&'static str> = sessions
            .iter()
            .filter(|s| s.host == host.host)
            .filter_map(|s| s.tls.as_ref())
            .flat_map(|tls| tls.problems.iter())
            .filter_map(|p| match p {
                TlsProblem::ExpiringSoon { .. } => None,
                TlsProblem::Untrusted => Some("untrusted"),
                TlsProblem::SelfSigned => Some("self-signed"),
                TlsProblem::Expired => Some("expired"),
                TlsProblem::NotYetValid => Some("not-yet-valid"),
                TlsProblem::NameMismatch => Some("name-mismatch"),
                TlsProblem::Other { .. } => Some("unverified"),
            })
            .collect();
        if !problems.is_empty() {
            findings.push(
                about(FindingKind::MtaStsCertificate, Severity::Transient)
                    .with("problems", problems.join(", "))
                    .with_codes(None, Some("4.7.5")),
            );
        }
    }
    findings
}

fn tls_rpt_findings(
    domain: &str,
    facts: &DomainPolicy,
    uses_mta_sts: bool,
    uses_dane: bool,
) -> Vec<Finding> {
    let about = |kind, severity| {
        Finding::new(kind, severity)
            .with("domain", domain)
            .about(format!("_smtp._tls.{domain}"))
    };
    match facts.tls_rpt.as_slice() {
        [] if uses_mta_sts || uses_dane => {
            let policies = match (uses_mta_sts, uses_dane) {
                (true, true) => "MTA-STS, DANE",
                (true, false) => "MTA-STS",
                _ => "DANE",
            };
            vec![about(FindingKind::TlsRptMissing, Severity::Info).with("policies", policies)]
        }
        [] => Vec::new(),
        [record] if record.problems.is_empty() => {
            vec![about(FindingKind::TlsRptValid, Severity::Ok).with("rua", record.rua.join(", "))]
        }
        [record] => vec![
            about(FindingKind::TlsRptInvalid, Severity::Warning)
                .with_problems("problems", &record.problems),
        ],
        several => vec![
            about(FindingKind::TlsRptInvalid, Severity::Warning).with_problems(
                "problems",
                &[Problem {
                    key: ProblemKey::RptSeveral,
                    value: several.len().to_string(),
                }],
            ),
        ],
    }
}
