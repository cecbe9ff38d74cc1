//! The SMTP reply reader of the probe (`smtp::reader::ReplyReader`), fed from memory in
//! chunks whose sizes the input chooses, read reply after reply as a dialogue would
//! (greeting, EHLO with its extension lines, ...), each reply classified as the probe does.
#![no_main]

use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use smtpdiag::kb::{self, Lang};
use smtpdiag::reply::Extracted;
use smtpdiag::smtp::reader::{MAX_LINE, MAX_LINES, ReadError, ReplyReader};
use tokio::io::{AsyncRead, ReadBuf};

/// A stream that hands out its bytes in chunks of 1..=`chunk` bytes, then end of file.
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.data.len().min(self.chunk).min(buf.remaining());
        let (head, tail) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = tail;
        Poll::Ready(Ok(()))
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    // 1..=256 bytes a read, sometimes 1 byte at a time, sometimes all at once.
    let chunk = match first {
        0 => usize::MAX,
        n => usize::from(n),
    };
    let mut stream = Chunked { data, chunk };
    runtime().block_on(async {
        let mut reader = ReplyReader::new();
        for _ in 0..256 {
            match reader.read_reply(&mut stream, Duration::from_secs(5)).await {
                Ok(reply) => {
                    let code = reply.code();
                    assert_eq!(reply.reply.code, Some(code));
                    assert!(!reply.reply.lines.is_empty());
                    assert!(reply.reply.lines.len() <= MAX_LINES);
                    assert!(reply.reply.lines.iter().all(|l| l.len() <= 4 * MAX_LINE));
                    // EHLO: the extension keywords are the lines after the first.
                    let _ = reply
                        .reply
                        .lines
                        .iter()
                        .skip(1)
                        .any(|e| e.eq_ignore_ascii_case("STARTTLS"));
                    let found = Extracted::from_reply(reply.reply, None);
                    let _ = kb::classify_reply(&found, Lang::En);
                }
                Err(ReadError::Closed { partial }) => {
                    assert!(partial.len() < MAX_LINES);
                    return;
                }
                Err(ReadError::Timeout(_)) => panic!("an in-memory stream never times out"),
                Err(_) => {
                    // Malformed, too long, mixed codes: the dialogue stops here.
                    return;
                }
            }
        }
    });
});
