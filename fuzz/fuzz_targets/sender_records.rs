//! The readers of a sender's records, whose input is written by strangers: DMARC records
//! (and the domains their report URIs name), DKIM key records with the key's DER, and the
//! test that tells an SPF record from other TXT records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpdiag::policy::{dkim, dmarc, spf};

/// Base64 without padding rules of its own: enough to hand arbitrary bytes to the DER
/// reader behind `p=`, which a text input would almost never reach.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for inherited in [false, true] {
        if let Ok(policy) = dmarc::parse(&text, inherited) {
            // A policy read is one a report can print: its percentage is a percentage.
            assert!(policy.pct <= 100, "pct {} from {text:?}", policy.pct);
        }
    }
    let _ = dmarc::organisational_domain(&text);
    let _ = dmarc::mailto_domain(&text);
    let _ = spf::is_spf_record(&text);
    let _ = dkim::parse(&text);
    let _ = dkim::parse(&format!("v=DKIM1; k=rsa; p={}", base64(data)));
});
