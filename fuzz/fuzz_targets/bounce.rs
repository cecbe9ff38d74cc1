//! `smtpdiag explain FILE`: a bounce message (MIME, DSN, prose, ARF, auto-reply) and the
//! dispatch between message and pasted text.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use smtpdiag::input::{bounce, explain_contents};
use smtpdiag::kb::Lang;

/// libfuzzer-sys aborts in its panic hook, before any `catch_unwind` can run. smtpdiag
/// parses messages inside `catch_unwind` (mail-parser 0.11 has debug assertions that a
/// hostile message trips: tests/fuzz_regressions.rs), so a panic raised inside mail-parser
/// is let unwind to it. A panic that nothing catches still aborts: libfuzzer-sys aborts
/// when the target unwinds.
fn let_mail_parser_unwind() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let abort = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info
                .location()
                .is_some_and(|l| l.file().contains("/mail-parser-"));
            if !in_mail_parser {
                abort(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    let_mail_parser_unwind();
    let _ = bounce::looks_like_message(data);
    let _ = bounce::read_bounce("x", data, Lang::En);
    let _ = explain_contents("x", data, Lang::En);
});
