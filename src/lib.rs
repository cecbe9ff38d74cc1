//! smtpdiag: tells a mail operator why mail to a domain fails and what to do about it.
//!
//! The library holds the behaviour — the knowledge base of reply codes ([`kb`]), the reply
//! model ([`reply`]), DNS ([`dns`]), blocklists ([`dnsbl`]), the SMTP dialogue ([`smtp`]),
//! the probe that runs them ([`probe`]) and its [`report`] — and renderers that turn its
//! models into text or JSON ([`output`]).
//! The binary only parses flags into a [`config::Config`], calls in here and picks the exit
//! status ([`exit::ExitStatus`]).

pub mod assess;
pub mod batch;
pub mod cli;
pub mod config;
pub mod dns;
pub mod dnsbl;
pub mod error;
pub mod exit;
pub mod input;
pub mod kb;
pub mod output;
pub mod policy;
pub mod probe;
pub mod reply;
pub mod report;
pub mod sender;
pub mod smtp;
pub mod timing;

pub use error::Error;
pub use exit::ExitStatus;
