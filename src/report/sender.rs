//! The report of `smtpdiag sender`: the sending side's facts (SPF, DMARC, DKIM, reverse
//! DNS, HELO, blocklists), the checklist of the big receivers' requirements and the
//! findings. Built by [`crate::sender`], judged by [`crate::assess::sender`], rendered by
//! [`crate::output::sender`].

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::dns::Lookup;
use crate::dns::reverse::{AddressReverse, HeloCheck};
use crate::dnsbl::{DnsblResult, ListHealth};
use crate::kb::{FindingKind, Lang};
use crate::policy::dkim::DkimSelector;
use crate::policy::dmarc::DmarcCheck;
use crate::policy::spf::SpfCheck;
use crate::report::{Finding, Verdict, serialize_ms};

/// Whether a requirement is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Not enough facts: no DKIM selector was given, or a query failed.
    Unknown,
}

/// Who a requirement applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every sender.
    All,
    /// Bulk senders (Gmail and Yahoo: about 5,000 messages a day to their users;
    /// Microsoft: over 5,000 a day to Outlook.com).
    Bulk,
}

/// One line of the checklist: a requirement, the receivers that publish it, whether the
/// sender meets it and the replies it gets when it does not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requirement {
    /// Its key (`requirement-...`); its words are in `kb/<lang>/findings.toml`.
    pub id: FindingKind,
    pub receivers: Vec<&'static str>,
    pub scope: Scope,
    pub status: Status,
    pub replies: Vec<&'static str>,
    /// The requirement in the reader's language, filled in when the report is rendered.
    pub title: String,
}

/// Everything `smtpdiag sender` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SenderReport {
    pub domain: String,
    /// The envelope sender, when an address was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    pub addresses: Vec<IpAddr>,
    pub verdict: Verdict,
    pub exit_code: u8,
    pub spf: SpfCheck,
    pub dmarc: DmarcCheck,
    pub dkim: Vec<DkimSelector>,
    pub reverse_dns: Vec<AddressReverse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<HeloCheck>,
    pub dnsbl: Vec<DnsblResult>,
    pub dnsbl_lists: Vec<ListHealth>,
    /// The published requirements of Gmail, Yahoo/AOL and Microsoft, line by line.
    pub requirements: Vec<Requirement>,
    pub findings: Vec<Finding>,
    /// The queries of reverse DNS, the HELO name and the blocklists (SPF, DMARC and DKIM
    /// keep theirs with their facts).
    pub lookups: Vec<Lookup>,
    #[serde(serialize_with = "serialize_ms", rename = "duration_ms")]
    pub duration: Duration,
    pub lang: Lang,
}
