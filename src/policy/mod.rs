//! Facts about a sender's published policies: SPF, DMARC and DKIM records, what was asked
//! and what came back. Nothing here judges; `assess` turns these facts into findings.

pub mod spf;
