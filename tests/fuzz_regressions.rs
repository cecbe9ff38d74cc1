//! Inputs that made a fuzz target (fuzz/, docs/robustness.md "Fuzzing") crash, each called
//! through the same public API as the target that found it. A test of a bug not yet fixed
//! is `#[ignore]`d (issue 15); once fixed, the `ignore` goes and the test guards the fix.

use smtpdiag::input::explain_contents;
use smtpdiag::kb::{self, Lang, Query};
use smtpdiag::reply::extract;

/// fuzz target `extract`: `strip_field_name` (src/reply/extract.rs) slices the text at
/// `"diagnostic-code:".len()` = 16 bytes to compare it with the field name, which panics
/// when byte 16 falls inside a multi-byte character: "end byte index 16 is not a char
/// boundary". Any reply with a non-ASCII character there (French, Japanese, a Latin-1 byte
/// read lossily) crashed `smtpdiag explain`. Found by the first run of the target (on
/// 336cbfd); fixed in 0391ae1 ("no panic on Japanese text") while the run went on.
#[test]
fn extract_non_ascii_at_byte_16() {
    // As found: "550 5.1.1 Adres\xafse d au moins un destinataire invalide. ..."
    let found: &[u8] = b"550 5.1.1 Adres\xafse d au moins un destinataire invalide. \
        Invalid r+cipient. OFR_4\xb16 [416]";
    let text = String::from_utf8_lossy(found);
    let _ = extract(&text);
    // Minimised: 15 ASCII bytes, then a two-byte character over bytes 15 and 16.
    let minimal = "550 5.1.1 Adres\u{e9}e";
    let _ = extract(minimal);
    if let Ok(query) = Query::parse(minimal) {
        let _ = kb::explain(minimal, &query, Lang::En);
    }
    let _ = explain_contents("x", minimal.as_bytes(), Lang::En);
}

/// fuzz target `bounce`: mail-parser 0.11.9 (src/parsers/message.rs:485) panics with
/// "Invalid part ID, could not find multipart." on a `message/rfc822` part whose message
/// is itself `message/rfc822`, inside a multipart. It is a `debug_assert!`: a build with
/// debug assertions (`cargo test`, `cargo build` without `--release`, the fuzz build)
/// panicked in `read_bounce`, so `smtpdiag explain FILE` of such a message crashed there;
/// a release build went on. Minimised by hand from the fuzzer's 2930-byte input (a Postfix
/// DSN of the corpus with a part cut and repeated). Fixed in dc94ed0 (the parse is wrapped
/// in `catch_unwind`: the message is unreadable, not a crash).
#[test]
fn bounce_nested_rfc822_in_multipart() {
    let message: &[u8] = b"Content-Type: multipart/mixed; boundary=b\n\
        \n\
        --b\n\
        Content-Type: message/rfc822\n\
        \n\
        A: x\n\
        Content-Type: message/rfc822\n\
        \n\
        A: y\n\
        \n\
        z\n\
        --b--\n";
    let _ = smtpdiag::input::bounce::read_bounce("x", message, Lang::En);
    let _ = explain_contents("x", message, Lang::En);
}
