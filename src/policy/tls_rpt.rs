//! TLS-RPT (RFC 8460): where a domain asks senders to report TLS failures, published at
//! `_smtp._tls.<domain>`.

use serde::Serialize;

use super::problem::{Problem, ProblemKey, Problems};

/// A TLS-RPT record, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsRptRecord {
    /// The report destinations (`mailto:` and `https:` URIs), in order.
    pub rua: Vec<String>,
    /// What is wrong with the record; empty when it is valid.
    #[serde(flatten)]
    pub problems: Problems,
}

/// The TXT records of `_smtp._tls.<domain>` that are TLS-RPT records (RFC 8460 §3: those
/// starting with `v=TLSRPTv1`); other TXT records there are ignored.
#[must_use]
pub fn records<'a>(txt: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    txt.into_iter()
        .filter(|t| {
            t.trim_start()
                .get(..10)
                .is_some_and(|v| v.eq_ignore_ascii_case("v=TLSRPTv1"))
        })
        .collect()
}

/// Reads one record (RFC 8460 §3): `v=TLSRPTv1; rua=mailto:a@example.com,https://...`.
#[must_use]
pub fn parse(text: &str) -> TlsRptRecord {
    let mut record = TlsRptRecord {
        rua: Vec::new(),
        problems: Problems::default(),
    };
    let mut fields = text.split(';').map(str::trim).filter(|f| !f.is_empty());
    match fields.next() {
        Some("v=TLSRPTv1") => {}
        other => record.problems.push(Problem::about(
            ProblemKey::RptVersion,
            other.unwrap_or_default(),
        )),
    }
    let mut seen_rua = false;
    for field in fields {
        let Some((name, value)) = field.split_once('=') else {
            record
                .problems
                .push(Problem::about(ProblemKey::NotNameValue, field));
            continue;
        };
        match name.trim() {
            "rua" if seen_rua => record.problems.push(Problem::new(ProblemKey::RptRuaTwice)),
            "rua" => {
                seen_rua = true;
                for uri in value.split(',').map(str::trim) {
                    match destination_problem(uri) {
                        None => record.rua.push(uri.to_string()),
                        Some(problem) => record.problems.push(problem),
                    }
                }
            }
            // RFC 8460 §3: other extensions are ignored.
            _ => {}
        }
    }
    if !seen_rua {
        record
            .problems
            .push(Problem::new(ProblemKey::RptRuaMissing));
    }
    record
}

fn destination_problem(uri: &str) -> Option<Problem> {
    if let Some(address) = uri.strip_prefix("mailto:") {
        let valid = address
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        return (!valid).then(|| Problem::about(ProblemKey::RptMailtoInvalid, uri));
    }
    if let Some(rest) = uri.strip_prefix("https://") {
        return rest
            .split('/')
            .next()
            .is_none_or(str::is_empty)
            .then(|| Problem::about(ProblemKey::RptHttpsInvalid, uri));
    }
    Some(Problem::about(ProblemKey::RptSchemeInvalid, uri))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_records() {
        let r = parse("v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://reports.example.com/v1");
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!(r.rua.len(), 2);
        assert!(
            parse("v=TLSRPTv1;rua=mailto:a@example.net;")
                .problems
                .is_empty()
        );
    }

    #[test]
    fn malformed_records() {
        assert!(!parse("v=TLSRPTv1;").problems.is_empty());
        assert!(!parse("v=TLSRPTv1; rua=ftp://x.example").problems.is_empty());
        assert!(!parse("v=TLSRPTv1; rua=mailto:nobody").problems.is_empty());
        assert!(!parse("rua=mailto:a@example.com").problems.is_empty());
        assert_eq!(
            records(["v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@b.example"]).len(),
            1
        );
    }
}
