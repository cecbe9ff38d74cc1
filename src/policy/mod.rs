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

/// The fields of a `;`-separated tag list (DMARC, RFC 7489 §6.4; DKIM keys, RFC 6376
/// §3.2), each with its position among all fields: `name=value` split at the first `=`,
/// or the field as written when it has none. Empty fields are left out.
pub(crate) fn tag_list(text: &str) -> impl Iterator<Item = (usize, Result<(&str, &str), &str>)> {
    text.split(';').enumerate().filter_map(|(index, field)| {
        let field = field.trim();
        (!field.is_empty()).then(|| (index, field.split_once('=').ok_or(field)))
    })
}
