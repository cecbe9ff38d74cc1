//! Facts about the policies a domain publishes for the mail sent to it and by it: the
//! transport security policies (DANE, MTA-STS, TLS-RPT). Parsers and matchers only; the
//! lookups and fetches that feed them, and the findings they lead to, live elsewhere.

pub mod dane;
pub mod https;
pub mod mta_sts;
pub mod tls_rpt;
pub mod transport;
