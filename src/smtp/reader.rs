//! A lenient, bounded reader of SMTP replies.
//!
//! Lenient: multi-line replies, bare LF line endings (tolerated and flagged), text in any
//! encoding (kept lossily as UTF-8). Bounded: a line longer than [`MAX_LINE`] bytes, a
//! reply of more than [`MAX_LINES`] lines, more than [`MAX_SESSION_BYTES`] from one
//! server, or a reply that does not end before its deadline stops the read with an error
//! instead of eating memory or hanging.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use crate::reply::{Reply, ReplyCode, split_enhanced};

/// RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; real servers exceed it a little,
/// hostile ones without limit.
pub const MAX_LINE: usize = 4096;
/// More continuation lines than any real EHLO reply has.
pub const MAX_LINES: usize = 128;
/// The most one reader takes from a server over a whole session. Each reply is bounded by
/// [`MAX_LINE`] and [`MAX_LINES`] (about 512 KiB); a probe's dozen replies are a few
/// kilobytes, so a server that sends more than this is flooding, not talking.
pub const MAX_SESSION_BYTES: usize = 1 << 20;
/// How much of an unfinished or unsolicited text an error or a transcript quotes.
const QUOTED: usize = 200;

/// Why no reply could be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    #[error("the server closed the connection")]
    Closed {
        /// Lines of a reply that was cut off, if any.
        partial: Vec<String>,
    },
    #[error("the server sent a line that is not an SMTP reply: {line:?}")]
    Malformed { line: String },
    #[error("the server sent a line longer than {MAX_LINE} bytes")]
    LineTooLong,
    #[error("the server sent a reply of more than {MAX_LINES} lines")]
    TooManyLines,
    #[error("the lines of one reply carry different codes ({first} then {other})")]
    MixedCodes { first: u16, other: u16 },
    #[error("the server sent more than {MAX_SESSION_BYTES} bytes in one session")]
    SessionTooLarge,
    #[error("the server sent {bytes} bytes before it was asked: {text:?}")]
    Unsolicited { bytes: usize, text: String },
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A reply as read from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireReply {
    pub reply: Reply,
    /// At least one line ended in a bare LF instead of CRLF.
    pub bare_lf: bool,
}

impl WireReply {
    /// The basic code; wire replies always have one.
    ///
    /// # Panics
    ///
    /// Never: [`ReplyReader`] builds a `WireReply` only from lines that carry a code.
    #[must_use]
    pub fn code(&self) -> ReplyCode {
        self.reply
            .code
            .expect("a reply read from the wire always has a code")
    }
}

/// Reads replies from a byte stream, keeping what arrives beyond the current reply.
#[derive(Debug, Default)]
pub struct ReplyReader {
    buffer: Vec<u8>,
    /// Bytes taken from the stream since the reader was made.
    received: usize,
}

impl ReplyReader {
    #[must_use]
    pub fn new() -> ReplyReader {
        ReplyReader::default()
    }

    /// Bytes received but not yet read as a reply. Data waiting here after a `220` to
    /// STARTTLS was sent before the handshake: it must be discarded, never trusted
    /// (CVE-2011-0411, the STARTTLS command injection).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// Forgets buffered bytes.
    pub fn clear(&mut self) {
        self.buffer.clear();
    }

    /// An error when bytes are waiting that no command asked for: the probe sends one
    /// command at a time, so a server that answers before it is asked (or keeps talking
    /// after its reply) would have every later reply taken for the answer to the wrong
    /// command.
    #[must_use]
    pub fn unsolicited(&self) -> Option<ReadError> {
        (!self.buffer.is_empty()).then(|| ReadError::Unsolicited {
            bytes: self.buffer.len(),
            text: quoted(&self.buffer),
        })
    }

    /// The start of a line that has begun to arrive but has not ended (no LF yet), as
    /// text: what a server that trickles or never ends its line did send.
    #[must_use]
    pub fn unfinished(&self) -> Option<String> {
        (!self.buffer.is_empty()).then(|| quoted(&self.buffer))
    }

    /// Reads one complete reply, waiting at most `limit` for all of it.
    pub async fn read_reply<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        limit: Duration,
    ) -> Result<WireReply, ReadError> {
        let deadline = Instant::now() + limit;
        let mut lines: Vec<String> = Vec::new();
        let mut code: Option<ReplyCode> = None;
        let mut bare_lf = false;
        loop {
            let line = match self.read_line(stream, deadline, limit).await {
                Ok(line) => line,
                Err(ReadError::Closed { .. }) => {
                    return Err(ReadError::Closed { partial: lines });
                }
                Err(e) => return Err(e),
            };
            bare_lf |= !line.ends_with(b"\r\n");
            let text = trim_eol(&line);
            let text = String::from_utf8_lossy(text);
            let (line_code, last, rest) = parse_line(&text)?;
            match code {
                None => code = Some(line_code),
                Some(first) if first != line_code => {
                    return Err(ReadError::MixedCodes {
                        first: first.value(),
                        other: line_code.value(),
                    });
                }
                Some(_) => {}
            }
            lines.push(rest.to_string());
            if last {
                let (enhanced, _) = split_enhanced(&lines[0]);
                return Ok(WireReply {
                    reply: Reply {
                        code,
                        enhanced,
                        lines,
                    },
                    bare_lf,
                });
            }
            if lines.len() >= MAX_LINES {
                return Err(ReadError::TooManyLines);
            }
        }
    }

    /// One line, ending in LF, at most [`MAX_LINE`] bytes.
    async fn read_line<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        deadline: Instant,
        limit: Duration,
    ) -> Result<Vec<u8>, ReadError> {
        let mut scanned = 0;
        loop {
            if let Some(end) = self.buffer[scanned..].iter().position(|b| *b == b'\n') {
                let end = scanned + end + 1;
                if end > MAX_LINE + 2 {
                    return Err(ReadError::LineTooLong);
                }
                let line: Vec<u8> = self.buffer.drain(..end).collect();
                return Ok(line);
            }
            scanned = self.buffer.len();
            if scanned > MAX_LINE + 2 {
                return Err(ReadError::LineTooLong);
            }
            let mut chunk = [0u8; 4096];
            let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
                .await
                .map_err(|_| ReadError::Timeout(limit))??;
            if read == 0 {
                return Err(ReadError::Closed {
                    partial: Vec::new(),
                });
            }
            self.received += read;
            if self.received > MAX_SESSION_BYTES {
                return Err(ReadError::SessionTooLarge);
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

/// At most [`QUOTED`] characters of `bytes`, read lossily, line ends kept as they are.
fn quoted(bytes: &[u8]) -> String {
    let end = bytes.len().min(QUOTED * 4);
    String::from_utf8_lossy(&bytes[..end])
        .chars()
        .take(QUOTED)
        .collect()
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `250-text` → (250, false, "text"); `250 text` and `250` → (250, true, ...).
fn parse_line(text: &str) -> Result<(ReplyCode, bool, &str), ReadError> {
    let malformed = || ReadError::Malformed {
        line: text.chars().take(200).collect(),
    };
    let code = text
        .get(..3)
        .and_then(ReplyCode::parse)
        .ok_or_else(malformed)?;
    match text.as_bytes().get(3) {
        None => Ok((code, true, "")),
        Some(b' ') => Ok((code, true, &text[4..])),
        Some(b'-') => Ok((code, false, &text[4..])),
        Some(_) => Err(malformed()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn read_all(input: &'static [u8]) -> Result<WireReply, ReadError> {
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            // A few bytes at a time: replies split across many reads.
            for chunk in input.chunks(3) {
                if server.write_all(chunk).await.is_err() {
                    return;
                }
            }
        });
        ReplyReader::new()
            .read_reply(&mut client, Duration::from_secs(2))
            .await
    }

    #[tokio::test]
    async fn multi_line_reply_split_across_reads() {
        let reply = read_all(b"250-mx.example.com\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
            .await
            .unwrap();
        assert_eq!(reply.code().value(), 250);
        assert_eq!(
            reply.reply.lines,
            ["mx.example.com", "PIPELINING", "STARTTLS"]
        );
        assert!(!reply.bare_lf);
    }

    #[tokio::test]
    async fn bare_lf_is_tolerated_and_flagged() {
        let reply = read_all(b"220 mx.example.com ESMTP\n").await.unwrap();
        assert!(reply.bare_lf);
        assert_eq!(reply.reply.lines, ["mx.example.com ESMTP"]);
    }

    #[tokio::test]
    async fn enhanced_code_is_read() {
        let reply = read_all(b"550 5.1.1 <x@example.com>: User unknown\r\n")
            .await
            .unwrap();
        assert_eq!(reply.reply.enhanced.unwrap().to_string(), "5.1.1");
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        assert!(matches!(
            read_all(b"HTTP/1.1 400 Bad Request\r\n").await,
            Err(ReadError::Malformed { .. })
        ));
        assert!(matches!(
            read_all(b"2200 hello\r\n").await,
            Err(ReadError::Malformed { .. })
        ));
    }

    #[tokio::test]
    async fn close_mid_reply_keeps_the_partial_lines() {
        match read_all(b"250-first\r\n250-second\r\n250 thi").await {
            Err(ReadError::Closed { partial }) => assert_eq!(partial, ["first", "second"]),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn mixed_codes_are_refused() {
        assert!(matches!(
            read_all(b"250-a\r\n550 b\r\n").await,
            Err(ReadError::MixedCodes {
                first: 250,
                other: 550
            })
        ));
    }

    #[tokio::test]
    async fn bounds_hold() {
        let long: &'static [u8] = Box::leak(vec![b'2'; MAX_LINE * 3].into_boxed_slice());
        assert!(matches!(read_all(long).await, Err(ReadError::LineTooLong)));
        let many: &'static [u8] = Box::leak(
            "250-x\r\n"
                .repeat(MAX_LINES + 5)
                .into_bytes()
                .into_boxed_slice(),
        );
        assert!(matches!(read_all(many).await, Err(ReadError::TooManyLines)));
    }

    #[tokio::test]
    async fn a_session_is_bounded_as_a_whole() {
        // Replies within every per-reply bound, a few hundred kilobytes each.
        let line = format!("250-{}\r\n", "y".repeat(4000));
        let reply = format!("{}250 end\r\n", line.repeat(100));
        let flood: &'static [u8] = Box::leak(reply.repeat(4).into_bytes().into_boxed_slice());
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            let _ = server.write_all(flood).await;
        });
        let mut reader = ReplyReader::new();
        let limit = Duration::from_secs(5);
        assert!(reader.read_reply(&mut client, limit).await.is_ok());
        assert!(reader.read_reply(&mut client, limit).await.is_ok());
        assert!(matches!(
            reader.read_reply(&mut client, limit).await,
            Err(ReadError::SessionTooLarge)
        ));
    }

    #[tokio::test]
    async fn what_came_unasked_is_reported() {
        let (mut client, mut server) = tokio::io::duplex(64);
        server
            .write_all(b"220 mx ESMTP\r\n250 early\r\n")
            .await
            .unwrap();
        let mut reader = ReplyReader::new();
        reader
            .read_reply(&mut client, Duration::from_secs(1))
            .await
            .unwrap();
        match reader.unsolicited() {
            Some(ReadError::Unsolicited { bytes, text }) => {
                assert_eq!(bytes, 11);
                assert_eq!(text, "250 early\r\n");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn an_unfinished_line_is_kept_for_the_transcript() {
        let (mut client, mut server) = tokio::io::duplex(64);
        server.write_all(b"220 fault.test\r").await.unwrap();
        let mut reader = ReplyReader::new();
        let result = reader
            .read_reply(&mut client, Duration::from_millis(50))
            .await;
        assert!(matches!(result, Err(ReadError::Timeout(_))));
        assert_eq!(reader.unfinished().as_deref(), Some("220 fault.test\r"));
        assert!(ReplyReader::new().unfinished().is_none());
    }

    #[tokio::test]
    async fn silence_times_out() {
        let (mut client, _server) = tokio::io::duplex(64);
        let result = ReplyReader::new()
            .read_reply(&mut client, Duration::from_millis(50))
            .await;
        assert!(matches!(result, Err(ReadError::Timeout(_))));
    }
}
