//! The shape of the files under `kb/`: one serde type per file, nothing else.
//!
//! This file is compiled twice, from one source: by `build.rs` (`#[path]`), which reads
//! `kb/` with these types and turns it into the static tables of `src/kb/data.rs`, and by
//! the library, which shares [`Side`] with the generated tables and lets `tests/kb.rs`
//! read the files the same way. It must therefore depend on nothing but `serde` and `std`.
//!
//! What the types say is what a file must look like to be compiled at all: the fields, their
//! types, the closed vocabularies (stages, sides, rule strengths). Whether the data is
//! *right* — complete in every language, unique keys, signatures that match their examples,
//! references that resolve — is checked by `tests/kb.rs`, so that a translator with a
//! half-done language can still build and see the rest. Every field is described, for the
//! people who edit the data, in `kb/README.md`.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

/// The language every other one is checked against and falls back to.
pub const REFERENCE_LANG: &str = "en";

/// The values `kind` of a reply signature may take (`kb/signatures.toml`).
pub const SIGNATURE_KINDS: &[&str] = &[
    "authentication",
    "rate-limit",
    "unknown-user",
    "mailbox-full",
    "mailbox-disabled",
    "policy",
    "blocklist",
    "reputation",
    "greylisting",
    "relay-denied",
    "reverse-dns",
    "helo",
    "sender-rejected",
    "spam-content",
    "access-denied",
    "tls",
    "size",
    "service-unavailable",
];

// --- Language-neutral files -----------------------------------------------------------

/// `kb/codes.toml`: the facts of every code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodesFile {
    pub basic: Vec<BasicEntry>,
    pub enhanced: Vec<EnhancedEntry>,
}

/// A `[[basic]]` entry of `kb/codes.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicEntry {
    pub code: u16,
    pub rfc: Vec<String>,
    pub stages: Vec<StageName>,
    #[serde(default)]
    pub closes: bool,
    pub side: Side,
}

/// An `[[enhanced]]` entry of `kb/codes.toml`; `code` is `X.<subject>.<detail>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnhancedEntry {
    pub code: String,
    pub classes: Vec<u8>,
    pub basic: Vec<u16>,
    pub rfc: Vec<String>,
    pub side: Side,
}

/// Where in the dialogue a code is sent, as `kb/codes.toml` writes it. The variant names
/// are those of `smtpdiag::reply::Stage`, which `build.rs` writes into the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StageName {
    Greeting,
    Ehlo,
    #[serde(rename = "starttls")]
    StartTls,
    Auth,
    #[serde(rename = "mail")]
    MailFrom,
    #[serde(rename = "rcpt")]
    RcptTo,
    Data,
    EndOfData,
    Quit,
    Any,
}

/// Who usually has to act on a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Side {
    /// The sending client: its command, configuration or reputation.
    Sender,
    /// The receiving domain or server.
    Recipient,
    /// Either; the reply text tells which.
    Either,
}

/// `kb/signatures.toml`: reply signatures, in matching order.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignaturesFile {
    #[serde(default)]
    pub signature: Vec<SignatureEntry>,
}

/// A `[[signature]]` of `kb/signatures.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureEntry {
    pub id: String,
    pub provider: String,
    /// One of [`SIGNATURE_KINDS`].
    pub kind: String,
    /// An id of `kb/causes.toml`.
    pub cause: String,
    /// A regular expression, matched case-insensitively.
    pub pattern: String,
    #[serde(default)]
    pub url: Option<String>,
    /// Real replies the pattern must recognise.
    pub examples: Vec<String>,
}

/// `kb/causes.toml`: the causes and the rules that recognise them by their words.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CausesFile {
    #[serde(default)]
    pub cause: Vec<CauseEntry>,
    #[serde(default)]
    pub rule: Vec<RuleEntry>,
}

/// A `[[cause]]` of `kb/causes.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CauseEntry {
    pub id: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub codes: Vec<String>,
    #[serde(default)]
    pub fallback: Vec<String>,
}

/// A `[[rule]]` of `kb/causes.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleEntry {
    pub cause: String,
    pub strength: Strength,
    /// A regular expression, matched case-insensitively.
    pub words: String,
}

/// Whether a rule wins over specific codes (`strong`) or only over fallback codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strength {
    Strong,
    Weak,
}

/// `kb/dnsbl.toml`: the default blocklists.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocklistsFile {
    #[serde(default)]
    pub list: Vec<BlocklistEntry>,
}

/// A `[[list]]` of `kb/dnsbl.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocklistEntry {
    pub zone: String,
    pub name: String,
    pub ipv6: bool,
    /// A URL with `{ip}` where the address goes.
    pub lookup: String,
    pub answers: Vec<Ipv4Addr>,
}

// --- Files of a language: kb/<lang>/ ----------------------------------------------------

/// `basic.toml` and `enhanced*.toml`: text per code, keyed `421` or `X.1.10`.
pub type CodeTextsFile = BTreeMap<String, CodeText>;

/// The text of one code. Missing fields read as empty: `tests/kb.rs` names them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeText {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub when: String,
    #[serde(default)]
    pub fix: String,
}

/// `classes.toml`: text for classes, categories and subjects, keyed by their digit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassesFile {
    #[serde(default)]
    pub basic_class: BTreeMap<String, ClassText>,
    #[serde(default)]
    pub basic_category: BTreeMap<String, ClassText>,
    #[serde(default)]
    pub enhanced_class: BTreeMap<String, ClassText>,
    #[serde(default)]
    pub enhanced_subject: BTreeMap<String, ClassText>,
}

/// The text of a class, category or subject. Categories have a name only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassText {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub when: String,
    #[serde(default)]
    pub fix: String,
}

/// `<lang>/signatures.toml`: text per signature id.
pub type SignatureTextsFile = BTreeMap<String, SignatureText>;

/// The text of a reply signature.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureText {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub cause: String,
    #[serde(default)]
    pub fix: String,
}

/// `findings.toml` (per kind of finding) and `<lang>/causes.toml` (per cause id): both
/// have a title, an explanation and a fix.
pub type ExplainedTextsFile = BTreeMap<String, ExplainedText>;

/// A title, an explanation and a fix; `{placeholders}` are filled in by the program.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainedText {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub explanation: String,
    #[serde(default)]
    pub fix: String,
}

/// `<lang>/dnsbl.toml`: text per blocklist zone.
pub type BlocklistTextsFile = BTreeMap<String, BlocklistText>;

/// What a blocklist's answers mean and how to get off it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocklistText {
    #[serde(default)]
    pub delist: String,
    /// Answer (`127.0.0.2`) → meaning.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
}

/// `ui.toml`: headings, labels and templates, `snake_case` key → text.
pub type UiFile = BTreeMap<String, String>;
