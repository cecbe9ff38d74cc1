//! `smtpdiag logs FILE`: the line parser (Postfix, Exim, Sendmail, Exchange; stateful
//! across the lines of one log) and the streaming reader with its summary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtpdiag::input::logs::{Event, LineParser, LogOptions, LogReader, Time};
use smtpdiag::kb::Lang;

// A fixed "now", so that runs are reproducible (syslog dates have no year).
const NOW: Time = Time(1_796_083_200); // 2026-12-01T00:00:00

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parser = LineParser::new(NOW);
    for line in text.split('\n') {
        parser.parse(line, &mut |event| {
            if let Event::Failure(failure) = event {
                let _ = failure.classified_text();
            }
        });
    }
    let mut reader = LogReader::new(LogOptions {
        lang: Lang::En,
        since: None,
        until: None,
        now: NOW,
    });
    let stats = reader.read("x", data);
    assert!(stats.lines_skipped <= stats.lines);
    let summary = reader.summary();
    let _ = summary.incomplete();
    let _ = summary.exit_status();
    let _ = summary.worst_domains(5);
});
