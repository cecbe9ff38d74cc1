//! What the certificate an exchange presented means for senders that verify it.

use crate::kb::FindingKind;
use crate::report::{Finding, Severity};
use crate::smtp::{TlsInfo, TlsProblem};

/// The findings about the TLS session of `host`: one "ok", or one per problem.
#[must_use]
pub fn tls_findings(host: &str, port: u16, tls: &TlsInfo) -> Vec<Finding> {
    let Some(leaf) = tls.chain.first() else {
        return Vec::new();
    };
    let base = Finding::new(FindingKind::TlsOk, Severity::Ok)
        .with("host", host)
        .with("port", port.to_string())
        .with("version", &tls.version)
        .with("cipher", &tls.cipher)
        .with("names", leaf.names.join(", "))
        .with("subject", &leaf.subject)
        .with("issuer", &leaf.issuer)
        .with("not_before", &leaf.not_before)
        .with("not_after", &leaf.not_after)
        .about(host.to_string());
    if tls.problems.is_empty() {
        return vec![base];
    }
    tls.problems
        .iter()
        .map(|problem| {
            let (kind, detail) = match problem {
                TlsProblem::Untrusted => (FindingKind::TlsUntrusted, None),
                TlsProblem::SelfSigned => (FindingKind::TlsSelfSigned, None),
                TlsProblem::Expired => (FindingKind::TlsExpired, None),
                TlsProblem::NotYetValid => (FindingKind::TlsNotYetValid, None),
                TlsProblem::NameMismatch => (FindingKind::TlsNameMismatch, None),
                TlsProblem::ExpiringSoon { days } => {
                    (FindingKind::TlsExpiring, Some(("days", days.to_string())))
                }
                TlsProblem::Other { reason } => {
                    (FindingKind::TlsProblem, Some(("reason", reason.clone())))
                }
            };
            let mut finding = base.clone();
            finding.kind = kind;
            finding.severity = Severity::Warning;
            if let Some((name, value)) = detail {
                finding = finding.with(name, value);
            }
            finding
        })
        .collect()
}
