//! A scripted SMTP server on a random loopback port, for the faults real servers do not
//! produce: silence, garbage, endless replies, dribbled replies, bare LF, a close in the
//! middle of a reply, oversized lines, escape sequences in the banner. It records every
//! command it receives, so a test can prove the probe never sent DATA.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
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
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
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

fn send(stream: &mut TcpStream, fault: Fault, text: &str) -> std::io::Result<()> {
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
        _ => stream.write_all(text.as_bytes()),
    }
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
            // Say nothing until the client gives up or the server stops.
            let mut buf = [0u8; 64];
            while !stop.load(Ordering::SeqCst) {
                match std::io::Read::read(&mut stream, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
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
        Fault::EscapeBanner => {
            "220 fault.test \x1b[31mRED\x1b[0m \x1b]0;pwned\x07 \u{9b}31m ESMTP\r\n".to_string()
        }
        _ => "220 fault.test ESMTP scripted fault server\r\n".to_string(),
    };
    if send(&mut stream, fault, &greeting).is_err() {
        return;
    }
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_string();
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
            "EHLO" if fault == Fault::BrokenTls => {
                "250-fault.test\r\n250-STARTTLS\r\n250 ENHANCEDSTATUSCODES\r\n".to_string()
            }
            "EHLO" => EHLO_REPLY.to_string(),
            "HELO" => "250 fault.test\r\n".to_string(),
            "STARTTLS" if fault == Fault::BrokenTls => {
                let _ = send(&mut stream, fault, "220 2.0.0 Ready to start TLS\r\n");
                // Whatever the client sends now is a ClientHello; answer it with text.
                thread::sleep(Duration::from_millis(50));
                let _ = stream.write_all(b"this is not a TLS server hello\r\n");
                return;
            }
            "MAIL" => "250 2.1.0 Ok\r\n".to_string(),
            "RCPT" => "250 2.1.5 Ok\r\n".to_string(),
            "DATA" | "BDAT" => "554 5.5.1 The probe must never send DATA\r\n".to_string(),
            "RSET" => "250 2.0.0 Ok\r\n".to_string(),
            "QUIT" => {
                connection.close();
                let _ = send(&mut stream, fault, "221 2.0.0 Bye\r\n");
                return;
            }
            _ => "502 5.5.2 Error: command not recognized\r\n".to_string(),
        };
        if send(&mut stream, fault, &reply).is_err() {
            return;
        }
    }
}
