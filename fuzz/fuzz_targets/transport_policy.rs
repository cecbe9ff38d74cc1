//! The readers of a domain's transport security policy, whose input is written by strangers:
//! the `_mta-sts` and `_smtp._tls` TXT records, the MTA-STS policy file, the HTTP response
//! it comes in, MX pattern matching and TLSA records against a certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpdiag::policy::dane::{Tlsa, match_chain};
use smtpdiag::policy::{https, mta_sts, tls_rpt};

fuzz_target!(|data: &[u8]| {
    let _ = https::parse_response(data);
    let text = String::from_utf8_lossy(data);
    let _ = mta_sts::read_record(text.lines());
    let policy = mta_sts::parse_policy(&text);
    let _ = policy.allows("mx.example.com");
    for record in tls_rpt::records(text.lines()) {
        let _ = tls_rpt::parse(record);
    }
    if let Some((pattern, host)) = text.split_once('\n') {
        let _ = mta_sts::mx_matches(pattern, host);
    }
    // The first bytes as TLSA parameters and data, the rest as a certificate.
    if data.len() > 3 {
        let record = Tlsa {
            usage: data[0] % 5,
            selector: data[1] % 3,
            matching: data[2] % 4,
            data: text.chars().skip(3).take(128).collect(),
        };
        let _ = record.unusable();
        let _ = match_chain(&[record], &[data[3..].to_vec()], true);
    }
});
