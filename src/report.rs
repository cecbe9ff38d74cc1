//! The report of one probe: what DNS, the blocklists and each SMTP session showed, every
//! finding explained, and the verdict. Human text and JSON are both renderings of this one
//! model; its JSON form is the contract documented in `docs/json.md`.

pub mod sender;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::dns::Lookup;
pub use crate::dns::mx::{MxHost, ReverseDns};
use crate::dnsbl::{DnsblResult, ListHealth};
use crate::exit::ExitStatus;
use crate::kb::{CauseRef, FindingKind, Lang};
use crate::policy::problem::Problem;
use crate::policy::transport::{Dnssec, DomainPolicy, HostTlsa};
use crate::smtp::Session;
pub use crate::timing::serialize_ms;

/// How bad a finding is, from good news to a permanent failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Something checked and found in order.
    Ok,
    /// Worth knowing; nothing to fix.
    Info,
    /// Something to fix that does not stop mail today.
    Warning,
    /// Mail is delayed: a temporary failure that may clear.
    Transient,
    /// Mail bounces: a failure that will not clear by itself.
    Permanent,
}

/// The answer to "does mail to this domain get through?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Deliverable.
    Ok,
    /// Temporarily failing: sending servers queue and retry.
    Transient,
    /// Permanently failing: mail bounces.
    Permanent,
    /// The probe could not complete; nothing is known.
    Unknown,
}

impl Verdict {
    /// The verdict of two checks that must both pass.
    #[must_use]
    pub fn worse_of(self, other: Verdict) -> Verdict {
        let rank = |verdict: Verdict| match verdict {
            Verdict::Ok => 0,
            Verdict::Unknown => 1,
            Verdict::Transient => 2,
            Verdict::Permanent => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    /// The exit status that carries this verdict.
    #[must_use]
    pub fn exit_status(self) -> ExitStatus {
        match self {
            Verdict::Ok => ExitStatus::Ok,
            Verdict::Transient => ExitStatus::Transient,
            Verdict::Permanent => ExitStatus::Permanent,
            Verdict::Unknown => ExitStatus::Incomplete,
        }
    }
}

/// One thing the probe found. Findings are built language-neutral, from facts, by
/// [`crate::assess`]: a kind and the parameters its text needs. The title, explanation and
/// fix are filled in once, in the reader's language, when the report is rendered
/// ([`crate::output::localize`]); in JSON they keep their place beside `params`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// What kind of finding this is (in JSON its key: `null-mx`, `reply`, ...).
    pub kind: FindingKind,
    /// The basic reply code the finding is about (or the code a server would send).
    pub code: Option<u16>,
    /// The enhanced status code, if any.
    pub enhanced: Option<String>,
    /// Title, explanation and fix: empty until the report is localized.
    #[serde(flatten)]
    pub text: FindingText,
    /// The host, address, list or stage the finding is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The reply signature that recognised the reply, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Why the server sent the reply the finding is about (`docs/causes.md`): the same
    /// cause `smtpdiag explain` gives the same text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<CauseRef>,
    /// The facts the finding's text is made from (`host`, `address`, `list`, `stage`, ...),
    /// as they came, in no language.
    pub params: BTreeMap<&'static str, String>,
    /// What is wrong with the record or policy the finding is about, in no language: the
    /// renderers put it in words (its English words are in `params` too).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problem_keys: Vec<Problem>,
}

/// The words of a finding in one language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FindingText {
    pub title: String,
    pub explanation: String,
    pub fix: String,
}

impl Finding {
    /// A finding of a kind, without parameters yet.
    #[must_use]
    pub fn new(kind: FindingKind, severity: Severity) -> Finding {
        Finding {
            severity,
            kind,
            code: None,
            enhanced: None,
            text: FindingText::default(),
            subject: None,
            signature: None,
            cause: None,
            params: BTreeMap::new(),
            problem_keys: Vec::new(),
        }
    }

    /// Adds a parameter of the finding's text; an empty value is left out (the text reads
    /// it as empty).
    #[must_use]
    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Finding {
        let value = value.into();
        if !value.is_empty() {
            self.params.insert(name, value);
        }
        self
    }

    /// The problems of a record or policy: in English as the parameter `name`, and as they
    /// are, to be put in the reader's words.
    #[must_use]
    pub fn with_problems(mut self, name: &'static str, problems: &[Problem]) -> Finding {
        self = self.with(name, Problem::texts(problems, Lang::En));
        self.problem_keys = problems.to_vec();
        self
    }

    /// The value of a parameter, empty when the finding has none by that name.
    #[must_use]
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// Sets the reply codes the finding stands for.
    #[must_use]
    pub fn with_codes(mut self, code: Option<u16>, enhanced: Option<&str>) -> Finding {
        self.code = code;
        self.enhanced = enhanced.map(str::to_string);
        self
    }

    /// Sets what the finding is about.
    #[must_use]
    pub fn about(mut self, subject: impl Into<String>) -> Finding {
        self.subject = Some(subject.into());
        self
    }
}

/// Time spent in each part of the probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    #[serde(serialize_with = "serialize_ms", rename = "total_ms")]
    pub total: Duration,
    #[serde(serialize_with = "serialize_ms", rename = "dns_ms")]
    pub dns: Duration,
    #[serde(serialize_with = "serialize_ms", rename = "dnsbl_ms")]
    pub dnsbl: Duration,
    #[serde(serialize_with = "serialize_ms", rename = "smtp_ms")]
    pub smtp: Duration,
}

/// The transport security policy of the domain and its exchangers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transport {
    /// DNSSEC status of the domain's MX answer (the resolver's AD bit).
    pub dnssec: Dnssec,
    #[serde(flatten)]
    pub domain: DomainPolicy,
    /// The TLSA records of each exchanger (`_25._tcp.<mx>`).
    pub tlsa: Vec<HostTlsa>,
}

/// Everything one probe of one domain found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The domain as given.
    pub domain: String,
    /// The domain in A-labels, as queried.
    pub ascii_domain: String,
    pub verdict: Verdict,
    /// The exit status this report alone would give.
    pub exit_code: u8,
    pub null_mx: bool,
    pub implicit_mx: bool,
    pub mx: Vec<MxHost>,
    pub dnsbl: Vec<DnsblResult>,
    /// The health of each blocklist queried (RFC 5782 test entries).
    pub dnsbl_lists: Vec<ListHealth>,
    pub sessions: Vec<Session>,
    /// The transport security policy: DNSSEC, DANE, MTA-STS, TLS-RPT (when checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<Transport>,
    /// The sending side (`--from` with `--check-ip`): the same report `smtpdiag sender`
    /// gives for the sender's domain and those addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<Box<sender::SenderReport>>,
    pub findings: Vec<Finding>,
    /// Every DNS query made, with its outcome and duration.
    pub lookups: Vec<Lookup>,
    pub timings: Timings,
    pub lang: Lang,
}

impl Report {
    /// The verdict the findings support: unknown when the probe could not complete,
    /// otherwise the worst of the failures.
    #[must_use]
    pub fn verdict_of(findings: &[Finding], incomplete: bool) -> Verdict {
        if incomplete {
            return Verdict::Unknown;
        }
        match findings.iter().map(|f| f.severity).max() {
            Some(Severity::Permanent) => Verdict::Permanent,
            Some(Severity::Transient) => Verdict::Transient,
            _ => Verdict::Ok,
        }
    }

    /// Sets the verdict and exit code from the findings.
    pub fn conclude(&mut self, incomplete: bool) {
        self.verdict = Report::verdict_of(&self.findings, incomplete);
        self.exit_code = self.verdict.exit_status().code();
    }

    /// Adds the sender's checks. Mail from that sender to this domain fails when either
    /// side fails, so the verdict becomes the worse of the two: a known failure before
    /// an incomplete check, a permanent one before a transient one.
    pub fn add_sender(&mut self, mut sender: sender::SenderReport) {
        // The probe asked the lists about the sending addresses already (`--check-ip`);
        // the sender's part shows those answers rather than asking again.
        if sender.dnsbl_lists.is_empty() {
            sender.dnsbl = (self.dnsbl.iter())
                .filter(|r| sender.addresses.contains(&r.address))
                .cloned()
                .collect();
            sender.dnsbl_lists.clone_from(&self.dnsbl_lists);
        }
        self.verdict = self.verdict.worse_of(sender.verdict);
        self.exit_code = self.verdict.exit_status().code();
        self.sender = Some(Box::new(sender));
    }
}
