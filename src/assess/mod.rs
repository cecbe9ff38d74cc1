//! Facts → findings: the one place where what DNS, the blocklists and the SMTP dialogue
//! showed is judged. Each assessor reads the facts of one layer and returns findings with a
//! kind, a severity, the reply codes a sender would meet, a cause, and the parameters its
//! text needs — in no language: words are filled in when the report is rendered.
//!
//! To add a check: a fact in the layer that sees it (`dns`, `dnsbl`, `smtp`), a finding kind
//! with its text in `kb/<lang>/findings.toml`, an assessor here, and a test.

pub mod dns;
pub mod dnsbl;
pub mod policy;
pub mod sender;
pub mod smtp;
pub mod tls;

use std::net::IpAddr;

pub use dnsbl::Checked;
pub use smtp::Assessment;

use crate::dns::mx::MxResolution;
use crate::dns::name::DomainName;
use crate::dnsbl::{Blocklist, DnsblCheck};
use crate::kb::FindingKind;
use crate::report::Transport;
use crate::report::{Finding, Severity};
use crate::smtp::Session;

/// Everything one probe of one domain learnt, as the assessors need it.
#[derive(Debug, Clone, Copy)]
pub struct ProbeFacts<'a> {
    pub domain: &'a DomainName,
    /// The MX resolution, its hosts with their reverse DNS.
    pub mx: &'a MxResolution,
    pub dnsbl: &'a DnsblCheck,
    /// The addresses queried in the lists, and why.
    pub checked: &'a [(IpAddr, Checked)],
    pub lists: &'a [Blocklist],
    pub sessions: &'a [Session],
    /// The SMTP port probed.
    pub port: u16,
    /// The HELO name used, when a dialogue ran.
    pub helo: Option<&'a str>,
    /// The transport security policy, when it was checked.
    pub policy: Option<&'a Transport>,
}

/// The findings of a probe, in report order (DNS, reverse DNS, blocklists, SMTP), and
/// whether the probe could not complete so that nothing reliable is known.
#[must_use]
pub fn probe_findings(facts: &ProbeFacts<'_>) -> Assessment {
    let (mut findings, dns_incomplete) = dns::mx_findings(facts.domain, facts.mx);
    findings.extend(dns::reverse_dns_findings(&facts.mx.hosts));
    findings.extend(dnsbl::dnsbl_findings(
        facts.dnsbl,
        facts.checked,
        facts.lists,
    ));
    if let Some(helo) = facts.helo.filter(|h| !h.contains('.')) {
        findings.push(
            Finding::new(FindingKind::HeloNotFqdn, Severity::Warning)
                .with("helo", helo)
                .about(helo),
        );
    }
    let smtp = smtp::smtp_findings(facts.sessions, facts.port);
    findings.extend(smtp.findings);
    if let Some(transport) = facts.policy {
        findings.extend(policy::policy_findings(
            &facts.domain.ascii,
            transport,
            &facts.mx.hosts,
            facts.sessions,
        ));
    }
    Assessment {
        findings,
        incomplete: dns_incomplete || smtp.incomplete,
    }
}
