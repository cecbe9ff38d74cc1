//! `smtpdiag explain TEXT`: the reply extraction, the query and the explanation page of
//! any pasted text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpdiag::kb::{self, Lang, Query};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(found) = smtpdiag::reply::extract(&text) {
        let _ = found.has_code();
        let _ = kb::classify_reply(&found, Lang::En);
    }
    if let Ok(query) = Query::parse(&text) {
        let _ = kb::explain(&text, &query, Lang::En);
    }
});
