//! Facts about the policies a domain publishes for the mail sent to it and by it: the
//! transport security policies (DANE, MTA-STS, TLS-RPT) and the sender's authentication
//! (SPF, DMARC, DKIM). Parsers, matchers and the lookups of the sender's records; the
//! findings they lead to live in `assess`.

pub mod dane;
pub mod dkim;
pub mod dmarc;
pub mod https;
pub mod mta_sts;
pub mod problem;
pub mod spf;
pub mod tls_rpt;
pub mod transport;
