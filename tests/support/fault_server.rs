//! A scripted SMTP server on a random loopback port, for the faults real servers do not
//! produce: silence, garbage, endless replies, dribbled replies, bare LF, a close in the
//! middle of a reply, oversized lines, escape sequences in the banner. It records every
//! command it receives, so a test can prove the probe never sent DATA.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// How the server misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A well-behaved ESMTP server without STARTTLS.
    Healthy,
    /// Accepts the connection and never says anything.
    SilentBanner,
    /// Answers like a web server: not SMTP at all.
    Garbage,
    /// A greeting of `220-` continuation lines that never ends.
    EndlessContinuation,
    /// Healthy, but every reply arrives two bytes at a time.
    SplitReply,
    /// Healthy, but lines end in a bare LF.
    BareLf,
    /// Half a multi-line greeting, then the connection closes.
    CloseMidReply,
    /// A greeting line of a mebibyte.
    OversizedLine,
    /// A greeting holding ANSI escape sequences (colour, window title) and a C1 CSI.
    EscapeBanner,
    /// 502 to EHLO; HELO works.
    EhloRefused,
    /// Offers STARTTLS, says 220, then answers the handshake with plain text.
    BrokenTls,
    /// The greeting trickles in, one byte per second.
    TrickleBanner,
    /// A line of a mebibyte in the middle of the EHLO reply.
    HugeEhloLine,
    /// 100,000 continuation lines, then a last line, in reply to RCPT TO.
    ManyRcptLines,
    /// A greeting with bytes that are not UTF-8 and a NUL.
    BinaryBanner,
    /// A greeting whose code is not a reply code: the text before the first space
    /// (`abc`, `99`, `600`, `2500`).
    InvalidCode(&'static str),
    /// The EHLO reply changes its code between continuation lines (250, then 550).
    MixedCodes,
    /// A CR alone inside the greeting line: `220 fault.test\rESMTP`.
    BareCrInLine,
    /// Lines end in a CR alone, never LF.
    BareCrEndings,
    /// A healthy greeting, then the connection closes.
    CloseAfterGreeting,
    /// Offers STARTTLS, says 220, then never says anything again.
    StalledTls,
    /// Offers STARTTLS and completes the handshake with a chain of 50 certificates
    /// (tests/fixtures/tls/chain50.pem); the session goes on inside TLS.
    LongChain,
    /// An EHLO reply with 10,000 extensions.
    ManyExtensions,
    /// Sends the greeting and, at once, the replies to EHLO and MAIL FROM that nobody
    /// asked for yet.
    EarlyTalker,
    /// Every reply is 127 lines of 4,000 bytes: each reply within the reader's bounds,
    /// the session far beyond.
    FloodingReplies,
    /// Offers STARTTLS, and sends `250 injected` right after its 220, before the
    /// handshake (CVE-2011-0411); the handshake then succeeds with the leaf alone.
    TlsInjection,
    /// Healthy, but every reply, the greeting included, comes after 1.5 s: each within a
    /// 2 s stage limit, the dialogue far beyond a short overall deadline.
    Tarpit,
}

/// A running fault server; stops when dropped.
pub struct FaultServer {
    pub addr: SocketAddr,
    commands: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    connections: Arc<Counters>,
}

/// Connections now open, the most ever open at once, and the total.
#[derive(Default)]
struct Counters {
    open: AtomicUsize,
    most: AtomicUsize,
    total: AtomicUsize,
}

const EHLO_REPLY: &str = "250-fault.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";

impl FaultServer {
    /// Starts on 127.0.0.1 with a port chosen by the system.
    pub fn start(fault: Fault) -> FaultServer {
        FaultServer::start_on(Ipv4Addr::LOCALHOST, fault)
    }

    /// Starts on a loopback address with a port chosen by the system.
    pub fn start_on(address: Ipv4Addr, fault: Fault) -> FaultServer {
        let listener =
            TcpListener::bind((address, 0)).unwrap_or_else(|e| panic!("bind {address}:0: {e}"));
        let addr = listener.local_addr().unwrap();
        let commands = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Counters::default());
        let (seen, stopping, counters) = (commands.clone(), stop.clone(), connections.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (seen, stopping, counters) = (seen.clone(), stopping.clone(), counters.clone());
                thread::spawn(move || {
                    let open = counters.open.fetch_add(1, Ordering::SeqCst) + 1;
                    counters.most.fetch_max(open, Ordering::SeqCst);
                    counters.total.fetch_add(1, Ordering::SeqCst);
                    let mut connection = Open {
                        counters: &counters,
                        closed: false,
                    };
                    serve(stream, fault, &seen, &stopping, &mut connection);
                });
            }
        });
        FaultServer {
            addr,
            commands,
            stop,
            connections,
        }
    }

    /// Every command line received, in order.
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }

    /// The most connections that were ever open at the same time.
    pub fn most_at_once(&self) -> usize {
        self.connections.most.load(Ordering::SeqCst)
    }

    /// How many connections were accepted in all.
    pub fn connections(&self) -> usize {
        self.connections.total.load(Ordering::SeqCst)
    }

    /// Whether any command that carries a message (DATA, BDAT) ever arrived.
    pub fn saw_data(&self) -> bool {
        self.commands().iter().any(|c| {
            let verb = c
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            verb == "DATA" || verb == "BDAT"
        })
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// One open connection in the counters; it counts as closed from the moment the server
/// answers QUIT, since the client may connect again as soon as it reads the answer.
struct Open<'a> {
    counters: &'a Counters,
    closed: bool,
}

impl Open<'_> {
    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.counters.open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.close();
    }
}

fn send(stream: &mut impl Write, fault: Fault, text: &str) -> std::io::Result<()> {
    match fault {
        Fault::SplitReply => {
            for chunk in text.as_bytes().chunks(2) {
                stream.write_all(chunk)?;
                stream.flush()?;
                thread::sleep(Duration::from_millis(2));
            }
            Ok(())
        }
        Fault::BareLf => stream.write_all(text.replace("\r\n", "\n").as_bytes()),
        Fault::BareCrEndings => stream.write_all(text.replace("\r\n", "\r").as_bytes()),
        Fault::Tarpit => {
            thread::sleep(Duration::from_millis(1500));
            stream.write_all(text.as_bytes())
        }
        _ => stream.write_all(text.as_bytes()),
    }?;
    stream.flush()
}

/// Waits, without answering, until the client goes away or the server stops.
fn stay_silent(stream: &mut TcpStream, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// The reply of `lines` continuation lines of `text`, then a last line.
fn long_reply(code: u16, lines: usize, text: &str) -> String {
    let mut reply = String::with_capacity(lines * (text.len() + 6));
    for _ in 0..lines {
        let _ = write!(reply, "{code}-{text}\r\n");
    }
    let _ = write!(reply, "{code} end\r\n");
    reply
}

fn serve(
    mut stream: TcpStream,
    fault: Fault,
    seen: &Mutex<Vec<String>>,
    stop: &AtomicBool,
    connection: &mut Open<'_>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let greeting = match fault {
        Fault::SilentBanner => {
            stay_silent(&mut stream, stop);
            return;
        }
        Fault::Garbage => {
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            thread::sleep(Duration::from_millis(200));
            return;
        }
        Fault::EndlessContinuation => {
            for _ in 0..1_000_000 {
                if stop.load(Ordering::SeqCst)
                    || stream
                        .write_all(b"220-fault.test this line never ends the reply\r\n")
                        .is_err()
                {
                    return;
                }
            }
            return;
        }
        Fault::CloseMidReply => {
            let _ = stream.write_all(b"220-fault.test ESMTP\r\n220-second line\r\n220 the la");
            return;
        }
        Fault::OversizedLine => {
            let line = format!("220 {}\r\n", "x".repeat(1 << 20));
            let _ = stream.write_all(line.as_bytes());
            thread::sleep(Duration::from_millis(500));
            return;
        }
        Fault::TrickleBanner => {
            for byte in b"220 fault.test ESMTP trickled one byte per second\r\n" {
                if stop.load(Ordering::SeqCst) || stream.write_all(&[*byte]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_secs(1));
            }
            stay_silent(&mut stream, stop);
            return;
        }
        Fault::BinaryBanner => {
            if stream
                .write_all(b"220 fault.test \xff\xfe\xc3(\x00 ESMTP \x80\r\n")
                .is_err()
            {
                return;
            }
            String::new()
        }
        Fault::InvalidCode(code) => {
            let _ = stream.write_all(format!("{code} fault.test ESMTP\r\n").as_bytes());
            stay_silent(&mut stream, stop);
            return;
        }
        Fault::CloseAfterGreeting => {
            let _ = stream.write_all(b"220 fault.test ESMTP and goodbye\r\n");
            return;
        }
        Fault::EscapeBanner => {
            "220 fault.test \x1b[31mRED\x1b[0m \x1b]0;pwned\x07 \u{9b}31m ESMTP\r\n".to_string()
        }
        Fault::BareCrInLine => "220 fault.test\rESMTP forged text\r\n".to_string(),
        Fault::EarlyTalker => {
            format!("220 fault.test ESMTP\r\n{EHLO_REPLY}250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n")
        }
        Fault::FloodingReplies => long_reply(220, 126, &"x".repeat(4000)),
        _ => "220 fault.test ESMTP scripted fault server\r\n".to_string(),
    };
    if send(&mut stream, fault, &greeting).is_err() {
        return;
    }
    if fault == Fault::BareCrEndings {
        // The greeting never ends for a client that waits for LF.
        stay_silent(&mut stream, stop);
        return;
    }
    let mut lines = Lines::default();
    match commands(&mut stream, &mut lines, fault, seen, connection, false) {
        Next::Done => {}
        Next::StartTls => match fault {
            Fault::StalledTls => stay_silent(&mut stream, stop),
            Fault::LongChain | Fault::TlsInjection => {
                let chain = if fault == Fault::LongChain { 50 } else { 1 };
                let Some(mut tls) = tls_server(stream, chain) else {
                    return;
                };
                let mut lines = Lines::default();
                commands(&mut tls, &mut lines, fault, seen, connection, true);
            }
            _ => {
                // Whatever the client sends now is a ClientHello; answer it with text.
                thread::sleep(Duration::from_millis(50));
                let _ = stream.write_all(b"this is not a TLS server hello\r\n");
            }
        },
    }
}

/// What the command loop stopped for.
enum Next {
    Done,
    StartTls,
}

/// Command lines, read from any stream (plain or TLS).
#[derive(Default)]
struct Lines {
    buffer: Vec<u8>,
}

impl Lines {
    fn next(&mut self, stream: &mut impl Read) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(String::from_utf8_lossy(&line).trim_end().to_string());
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// A TLS server configuration presenting the first `certificates` certificates of
/// tests/fixtures/tls/chain50.pem (leaf first, for mx.fault.test), with the leaf's key.
pub fn fixture_tls_config(certificates: usize) -> std::sync::Arc<rustls::ServerConfig> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(dir.join("chain50.pem"))
            .expect("tests/fixtures/tls/chain50.pem")
            .take(certificates)
            .collect::<Result<_, _>>()
            .expect("certificates in chain50.pem");
    let key =
        PrivateKeyDer::from_pem_file(dir.join("leaf.key")).expect("tests/fixtures/tls/leaf.key");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("the fixture's certificate and key");
    std::sync::Arc::new(config)
}

/// A server connection over `stream` that presents `certificates` certificates.
fn tls_server(
    stream: TcpStream,
    certificates: usize,
) -> Option<rustls::StreamOwned<rustls::ServerConnection, TcpStream>> {
    let connection = rustls::ServerConnection::new(fixture_tls_config(certificates)).ok()?;
    Some(rustls::StreamOwned::new(connection, stream))
}

/// Answers commands until QUIT, a close, or a STARTTLS to perform.
fn commands<S: Read + Write>(
    stream: &mut S,
    lines: &mut Lines,
    fault: Fault,
    seen: &Mutex<Vec<String>>,
    connection: &mut Open<'_>,
    in_tls: bool,
) -> Next {
    let offers_tls = matches!(
        fault,
        Fault::BrokenTls | Fault::StalledTls | Fault::LongChain | Fault::TlsInjection
    ) && !in_tls;
    loop {
        let Some(command) = lines.next(stream) else {
            return Next::Done;
        };
        seen.lock().unwrap().push(command.clone());
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" if fault == Fault::EhloRefused => {
                "502 5.5.2 Error: command not recognized\r\n".to_string()
            }
            "EHLO" if offers_tls => {
                "250-fault.test\r\n250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n".to_string()
            }
            "EHLO" if fault == Fault::HugeEhloLine => format!(
                "250-fault.test\r\n250-{}\r\n250 ENHANCEDSTATUSCODES\r\n",
                "X".repeat(1 << 20)
            ),
            "EHLO" if fault == Fault::MixedCodes => {
                "250-fault.test\r\n550-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n".to_string()
            }
            "EHLO" if fault == Fault::ManyExtensions => {
                let mut reply = "250-fault.test\r\n".to_string();
                for n in 0..9_999 {
                    let _ = write!(reply, "250-X-EXTENSION-{n}\r\n");
                }
                reply.push_str("250 X-EXTENSION-9999\r\n");
                reply
            }
            "EHLO" | "HELO" | "MAIL" | "RCPT" | "RSET" if fault == Fault::FloodingReplies => {
                long_reply(250, 126, &"y".repeat(4000))
            }
            "EHLO" => EHLO_REPLY.to_string(),
            "HELO" => "250 fault.test\r\n".to_string(),
            "STARTTLS" if offers_tls => {
                let mut ready = "220 2.0.0 Ready to start TLS\r\n".to_string();
                if fault == Fault::TlsInjection {
                    ready.push_str("250 injected\r\n");
                }
                if send(stream, fault, &ready).is_err() {
                    return Next::Done;
                }
                return Next::StartTls;
            }
            "MAIL" => "250 2.1.0 Ok\r\n".to_string(),
            "RCPT" if fault == Fault::ManyRcptLines => long_reply(250, 100_000, "2.1.5 Ok"),
            "RCPT" => "250 2.1.5 Ok\r\n".to_string(),
            "DATA" | "BDAT" => "554 5.5.1 The probe must never send DATA\r\n".to_string(),
            "RSET" => "250 2.0.0 Ok\r\n".to_string(),
            "QUIT" => {
                connection.close();
                let _ = send(stream, fault, "221 2.0.0 Bye\r\n");
                return Next::Done;
            }
            _ => "502 5.5.2 Error: command not recognized\r\n".to_string(),
        };
        if send(stream, fault, &reply).is_err() {
            return Next::Done;
        }
    }
}
