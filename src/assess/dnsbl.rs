//! What blocklist answers mean: a listing of the user's own address (mail is refused), of
//! an exchange (its outgoing mail suffers), and lists that cannot be trusted or used.

use std::net::IpAddr;

use crate::dnsbl::{Blocklist, DnsblCheck, DnsblResult, DnsblStatus, is_not_listed, outcome_text};
use crate::kb::FindingKind;
use crate::report::{Finding, Severity};

/// Why an address is being checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The user's own sending address (`--check-ip`, `smtpdiag blocklist`): a listing means
    /// receivers that use the list refuse its mail.
    Sender,
    /// An address of a mail exchanger of the domain.
    Mx { host: String },
}

/// The findings of the blocklist queries of `addresses` in `lists`.
#[must_use]
pub fn dnsbl_findings(
    check: &DnsblCheck,
    addresses: &[(IpAddr, Checked)],
    lists: &[Blocklist],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for ((health, test_outcome), list) in check.health.iter().zip(&check.test_outcomes).zip(lists) {
        let list_finding = |kind| {
            Finding::new(kind, Severity::Warning)
                .with("list", &list.name)
                .with("zone", &list.zone)
                .with("outcome", outcome_text(test_outcome))
                .about(list.zone.clone())
        };
        if health.localhost_listed {
            findings.push(list_finding(FindingKind::DnsblListsEverything));
        } else if !health.test_entry_listed && is_not_listed(test_outcome) {
            findings.push(list_finding(FindingKind::DnsblTestEntryMissing));
        }
    }
    for list in lists {
        let failed: Vec<&DnsblResult> = check
            .results
            .iter()
            .filter(|r| r.zone == list.zone && r.status == DnsblStatus::Failed)
            .collect();
        if let Some(first) = failed.first() {
            let addresses: Vec<String> = failed.iter().map(|r| r.address.to_string()).collect();
            findings.push(
                Finding::new(FindingKind::DnsblLookupFailed, Severity::Warning)
                    .with("list", &list.name)
                    .with("zone", &list.zone)
                    .with("address", addresses.join(", "))
                    .with("outcome", first.error.as_deref().unwrap_or_default())
                    .about(list.zone.clone()),
            );
        }
    }
    let mut reported_errors: Vec<(&str, DnsblStatus)> = Vec::new();
    for result in &check.results {
        let Some(list) = lists.iter().find(|l| l.zone == result.zone) else {
            continue;
        };
        let role = addresses
            .iter()
            .find(|(a, _)| *a == result.address)
            .map(|(_, r)| r);
        if let Some(finding) = finding_for(result, list, role, &mut reported_errors) {
            findings.push(finding);
        }
    }
    findings
}

fn finding_for<'a>(
    result: &'a DnsblResult,
    list: &Blocklist,
    role: Option<&Checked>,
    reported_errors: &mut Vec<(&'a str, DnsblStatus)>,
) -> Option<Finding> {
    let kind = match result.status {
        DnsblStatus::Listed => return Some(listing_finding(result, list, role)),
        DnsblStatus::NotListed
        | DnsblStatus::Skipped
        | DnsblStatus::Unreliable
        | DnsblStatus::Failed => return None,
        DnsblStatus::PublicResolver => FindingKind::DnsblPublicResolver,
        DnsblStatus::RateLimited => FindingKind::DnsblRateLimited,
        DnsblStatus::Typo => FindingKind::DnsblTypo,
        DnsblStatus::Blocked => FindingKind::DnsblBlockedQuery,
        DnsblStatus::InvalidAnswer => FindingKind::DnsblInvalidAnswer,
    };
    // An error of the list, not of the address: say it once per list.
    let key = (result.zone.as_str(), result.status);
    if reported_errors.contains(&key) {
        return None;
    }
    reported_errors.push(key);
    Some(
        Finding::new(kind, Severity::Warning)
            .with("list", &list.name)
            .with("zone", &list.zone)
            .with("address", result.address.to_string())
            .with("answer", answers_text(result))
            .about(list.zone.clone()),
    )
}

fn answers_text(result: &DnsblResult) -> String {
    result
        .answers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn listing_finding(result: &DnsblResult, list: &Blocklist, role: Option<&Checked>) -> Finding {
    let address = result.address.to_string();
    let (kind, severity, host) = match role {
        Some(Checked::Mx { host }) => {
            (FindingKind::DnsblListedMx, Severity::Warning, host.as_str())
        }
        _ => (FindingKind::DnsblListedSender, Severity::Permanent, ""),
    };
    let mut finding = Finding::new(kind, severity)
        .with("address", &address)
        .with("host", host)
        .with("list", &list.name)
        .with("zone", &list.zone)
        .with("answer", answers_text(result))
        .with_codes(Some(554), Some("5.7.1"))
        .about(format!("{address} @ {}", list.zone));
    if !result.txt.is_empty() {
        finding = finding.with("txt", result.txt.join(" "));
    }
    if let Some(lookup) = &list.lookup {
        finding = finding.with("lookup_url", lookup.replace("{ip}", &address));
    }
    finding
}
