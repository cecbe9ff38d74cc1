//! A scripted DNS server on a random loopback port, UDP and TCP, for the faults real
//! resolvers do not produce on demand: a thousand MX records, CNAME loops, answers too
//! large for UDP, silence, wrong message IDs, bytes that are not DNS, a blocklist that
//! lists everything, TXT records of 64 KB. The probe reaches it as a user would reach any
//! resolver: `--resolver 127.0.0.1:PORT` (or `ResolverSettings::servers`).
//!
//! Messages are built and read with hickory-proto (re-exported by hickory-resolver), so
//! every answer is well-formed DNS unless the fault is that it is not.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, CNAME, MX, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

/// What the server does with one question.
#[derive(Debug, Clone)]
pub enum Answer {
    /// These records, NOERROR.
    Records(Vec<Record>),
    /// NOERROR, no record.
    NoData,
    NxDomain,
    ServFail,
    /// No answer at all.
    Silent,
    /// The right answer under another message ID, which no client may accept.
    WrongId(Vec<Record>),
    /// Bytes that are not a DNS message.
    Garbage,
}

/// How the server answers: a function of the question's name (lowercase, no final dot)
/// and type.
pub type Zone = dyn Fn(&str, RecordType) -> Answer + Send + Sync;

/// How the transport misbehaves, whatever the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transport {
    /// Every UDP answer comes back truncated (TC, no records): only TCP gets the records.
    pub udp_always_truncated: bool,
}

/// One question received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub name: String,
    pub record_type: RecordType,
    pub tcp: bool,
}

/// A running DNS server; stops when dropped.
pub struct FaultDns {
    pub addr: SocketAddr,
    asked: Arc<Mutex<Vec<Asked>>>,
    stop: Arc<AtomicBool>,
}

/// A name from text; panics on a bad one (test data).
pub fn name(text: &str) -> Name {
    Name::from_ascii(format!("{}.", text.trim_end_matches('.'))).expect("a valid test name")
}

pub fn a(owner: &str, address: Ipv4Addr) -> Record {
    Record::from_rdata(name(owner), 300, RData::A(A(address)))
}

pub fn mx(owner: &str, preference: u16, exchange: &str) -> Record {
    Record::from_rdata(
        name(owner),
        300,
        RData::MX(MX::new(preference, name(exchange))),
    )
}

pub fn cname(owner: &str, target: &str) -> Record {
    Record::from_rdata(name(owner), 300, RData::CNAME(CNAME(name(target))))
}

/// A TXT record of `strings` character-strings of 255 bytes each.
pub fn big_txt(owner: &str, strings: usize, byte: u8) -> Record {
    let part = vec![byte; 255];
    let parts: Vec<&[u8]> = (0..strings).map(|_| part.as_slice()).collect();
    Record::from_rdata(name(owner), 300, RData::TXT(TXT::from_bytes(parts)))
}

pub fn txt(owner: &str, text: &str) -> Record {
    Record::from_rdata(
        name(owner),
        300,
        RData::TXT(TXT::new(vec![text.to_string()])),
    )
}

impl FaultDns {
    /// Starts on 127.0.0.1, UDP and TCP on the same port chosen by the system.
    pub fn start(zone: impl Fn(&str, RecordType) -> Answer + Send + Sync + 'static) -> FaultDns {
        FaultDns::start_with(Transport::default(), zone)
    }

    pub fn start_with(
        transport: Transport,
        zone: impl Fn(&str, RecordType) -> Answer + Send + Sync + 'static,
    ) -> FaultDns {
        // The same port for both: bind UDP first, then TCP on its port (retrying the rare
        // case where another process holds that TCP port).
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").expect("bind UDP 127.0.0.1:0");
            let port = udp.local_addr().unwrap().port();
            if let Ok(tcp) = TcpListener::bind(("127.0.0.1", port)) {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let zone: Arc<Zone> = Arc::new(zone);
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));

        let (z, seen, stopping) = (zone.clone(), asked.clone(), stop.clone());
        thread::spawn(move || {
            let mut buf = vec![0u8; 65_535];
            while !stopping.load(Ordering::SeqCst) {
                let Ok((len, peer)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Some(reply) = respond(&buf[..len], &*z, &seen, false, transport) {
                    let _ = udp.send_to(&reply, peer);
                }
            }
        });

        let (seen, stopping) = (asked.clone(), stop.clone());
        thread::spawn(move || {
            for stream in tcp.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (z, seen, stopping) = (zone.clone(), seen.clone(), stopping.clone());
                thread::spawn(move || serve_tcp(stream, &*z, &seen, &stopping, transport));
            }
        });
        FaultDns { addr, asked, stop }
    }

    /// Every question received, in order.
    pub fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }
}

impl Drop for FaultDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake both loops so they see the flag.
        if let Ok(socket) = UdpSocket::bind("127.0.0.1:0") {
            let _ = socket.send_to(b"stop", self.addr);
        }
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

fn serve_tcp(
    mut stream: TcpStream,
    zone: &Zone,
    asked: &Mutex<Vec<Asked>>,
    stop: &AtomicBool,
    transport: Transport,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return,
        }
        while pending.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([pending[0], pending[1]]));
            if pending.len() < 2 + len {
                break;
            }
            let query: Vec<u8> = pending.drain(..2 + len).skip(2).collect();
            if let Some(reply) = respond(&query, zone, asked, true, transport) {
                let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&reply);
                if stream.write_all(&framed).is_err() {
                    return;
                }
            }
        }
    }
}

/// The bytes to send back for one query, or `None` to stay silent.
fn respond(
    query: &[u8],
    zone: &Zone,
    asked: &Mutex<Vec<Asked>>,
    tcp: bool,
    transport: Transport,
) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    let question = query.queries.first()?.clone();
    let owner = question
        .name
        .to_ascii()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    asked.lock().unwrap().push(Asked {
        name: owner.clone(),
        record_type: question.query_type,
        tcp,
    });
    let mut response = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.authoritative = true;
    response.add_query(question.clone());
    match zone(&owner, question.query_type) {
        Answer::Records(records) => {
            response.add_answers(records);
        }
        Answer::NoData => {}
        Answer::NxDomain => response.metadata.response_code = ResponseCode::NXDomain,
        Answer::ServFail => response.metadata.response_code = ResponseCode::ServFail,
        Answer::Silent => return None,
        Answer::WrongId(records) => {
            response.metadata.id = query.metadata.id.wrapping_add(1);
            response.add_answers(records);
        }
        Answer::Garbage => {
            return Some(b"\x00\x01 this is not a DNS message \xff\xfe".to_vec());
        }
    }
    let bytes = response.to_vec().expect("a DNS message that encodes");
    let udp_limit = query
        .edns
        .as_ref()
        .map_or(512, |edns| usize::from(edns.max_payload().max(512)));
    if !tcp && (transport.udp_always_truncated || bytes.len() > udp_limit) {
        let mut truncated = response.truncate();
        truncated.metadata.truncation = true;
        return truncated.to_vec().ok();
    }
    Some(bytes)
}
