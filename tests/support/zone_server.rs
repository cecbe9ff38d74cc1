//! A DNS responder on a random loopback port (UDP and TCP on the same port) that answers
//! from an in-memory zone, like a recursive resolver that already knows every answer: A,
//! AAAA, MX, PTR, TXT (several strings), SPF (type 99) and CNAME, NXDOMAIN for unknown
//! names, NODATA for known names without the type asked, and silence for names or types
//! marked as timing out. The zone can be swapped between tests; the server lives as long
//! as the test process.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NULL, PTR, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// Type code of the SPF record (RFC 4408, obsoleted by RFC 7208 §14.1).
pub const SPF: u16 = 99;

/// One record of the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rr {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Mx(u16, String),
    Ptr(String),
    /// The character-strings of one TXT record.
    Txt(Vec<String>),
    /// The character-strings of one SPF (type 99) record.
    Spf(Vec<String>),
    Cname(String),
}

impl Rr {
    fn record_type(&self) -> RecordType {
        match self {
            Rr::A(_) => RecordType::A,
            Rr::Aaaa(_) => RecordType::AAAA,
            Rr::Mx(..) => RecordType::MX,
            Rr::Ptr(_) => RecordType::PTR,
            Rr::Txt(_) => RecordType::TXT,
            Rr::Spf(_) => RecordType::from(SPF),
            Rr::Cname(_) => RecordType::CNAME,
        }
    }
}

/// Names, their records, and what never gets an answer.
#[derive(Debug, Clone, Default)]
pub struct Zone {
    records: HashMap<String, Vec<Rr>>,
    /// Names whose every type not listed in `records` times out.
    silent_names: HashSet<String>,
    /// Single types of a name that time out.
    silent_types: HashSet<(String, RecordType)>,
    /// How long every answer is held back, like a distant authoritative server.
    delay: Duration,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Zone {
    #[must_use]
    pub fn new() -> Zone {
        Zone::default()
    }

    /// Adds a record.
    pub fn add(&mut self, name: &str, rr: Rr) -> &mut Zone {
        self.records.entry(key(name)).or_default().push(rr);
        self
    }

    /// Makes the name exist, with no record yet (NODATA for every type).
    pub fn touch(&mut self, name: &str) -> &mut Zone {
        self.records.entry(key(name)).or_default();
        self
    }

    /// Every query for the name times out, except for the types it has records of.
    pub fn time_out(&mut self, name: &str) -> &mut Zone {
        self.silent_names.insert(key(name));
        self
    }

    /// Holds every answer back this long (each query on its own, so that queries sent
    /// at the same time are answered at the same time).
    pub fn delay(&mut self, delay: Duration) -> &mut Zone {
        self.delay = delay;
        self
    }

    /// Queries for this type of the name time out.
    pub fn time_out_type(&mut self, name: &str, record_type: RecordType) -> &mut Zone {
        self.silent_types.insert((key(name), record_type));
        self
    }

    /// The records of a name, whether it exists; `None` when the query must go
    /// unanswered.
    fn answer(&self, name: &str, record_type: RecordType) -> Option<(ResponseCode, Vec<Record>)> {
        let mut answers = Vec::new();
        let mut name = key(name);
        // Follows CNAMEs, at most 8 deep.
        for _ in 0..8 {
            if self.silent_types.contains(&(name.clone(), record_type)) {
                return None;
            }
            let Some(records) = self.records.get(&name) else {
                if self.silent_names.contains(&name) {
                    return None;
                }
                let code = if answers.is_empty() {
                    ResponseCode::NXDomain
                } else {
                    ResponseCode::NoError
                };
                return Some((code, answers));
            };
            let of_type: Vec<&Rr> = records
                .iter()
                .filter(|rr| rr.record_type() == record_type)
                .collect();
            if !of_type.is_empty() {
                answers.extend(of_type.into_iter().filter_map(|rr| record(&name, rr)));
                return Some((ResponseCode::NoError, answers));
            }
            if self.silent_names.contains(&name) {
                return None;
            }
            match records.iter().find_map(|rr| match rr {
                Rr::Cname(target) => Some(target.clone()),
                _ => None,
            }) {
                Some(target) if record_type != RecordType::CNAME => {
                    answers.extend(record(&name, &Rr::Cname(target.clone())));
                    name = key(&target);
                }
                _ => return Some((ResponseCode::NoError, answers)),
            }
        }
        Some((ResponseCode::ServFail, Vec::new()))
    }
}

fn dns_name(name: &str) -> Option<Name> {
    let name = key(name);
    Name::from_ascii(format!("{name}."))
        .or_else(|_| {
            let mut raw = Name::from_labels(name.split('.').map(str::as_bytes))?;
            raw.set_fqdn(true);
            Ok::<Name, hickory_proto::ProtoError>(raw)
        })
        .ok()
}

/// The character-strings of a text record, each cut to the 255 bytes the wire allows. A
/// record of no string at all cannot be sent (RFC 1035 §3.3.14): it goes as one empty
/// string.
fn strings(parts: &[String]) -> Vec<Vec<u8>> {
    if parts.is_empty() {
        return vec![Vec::new()];
    }
    parts
        .iter()
        .flat_map(|part| {
            let bytes = part.as_bytes();
            if bytes.is_empty() {
                vec![Vec::new()]
            } else {
                bytes.chunks(255).map(<[u8]>::to_vec).collect()
            }
        })
        .collect()
}

fn record(owner: &str, rr: &Rr) -> Option<Record> {
    let rdata = match rr {
        Rr::A(a) => RData::A(A(*a)),
        Rr::Aaaa(a) => RData::AAAA(AAAA(*a)),
        Rr::Mx(preference, exchange) => RData::MX(MX::new(*preference, dns_name(exchange)?)),
        Rr::Ptr(target) => RData::PTR(PTR(dns_name(target)?)),
        Rr::Cname(target) => RData::CNAME(CNAME(dns_name(target)?)),
        Rr::Txt(parts) => RData::TXT(TXT::from_bytes(
            strings(parts).iter().map(Vec::as_slice).collect(),
        )),
        Rr::Spf(parts) => {
            let mut wire = Vec::new();
            for part in strings(parts) {
                wire.push(part.len() as u8);
                wire.extend(part);
            }
            RData::Unknown {
                code: RecordType::from(SPF),
                rdata: NULL::with(wire),
            }
        }
    };
    Some(Record::from_rdata(dns_name(owner)?, 300, rdata))
}

/// What the server was asked, in order: each query's name (lower case, no final dot)
/// and type.
type Asked = Arc<Mutex<Vec<(String, RecordType)>>>;

/// The answer to one query message; `None` to stay silent.
fn respond(zone: &Zone, request: &[u8], udp: bool, asked: &Asked) -> Option<Vec<u8>> {
    let request = Message::from_vec(request).ok()?;
    let mut response = Message::new(
        request.metadata.id,
        MessageType::Response,
        request.metadata.op_code,
    );
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    let Some(query) = request.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response.to_vec().ok();
    };
    response.add_query(query.clone());
    // The labels as bytes: names with `:`, `/`, `%` or spaces are looked up as they are,
    // not in the escaped form of a zone file.
    let name: Vec<String> = query
        .name
        .iter()
        .map(|label| String::from_utf8_lossy(label).into_owned())
        .collect();
    asked
        .lock()
        .unwrap()
        .push((key(&name.join(".")), query.query_type));
    let (code, answers) = zone.answer(&name.join("."), query.query_type)?;
    response.metadata.response_code = code;
    response.add_answers(answers);
    let wire = response.to_vec().ok()?;
    let room = request
        .edns
        .as_ref()
        .map_or(512, |e| usize::from(e.max_payload().max(512)));
    if udp && wire.len() > room {
        response.answers.clear();
        response.metadata.truncation = true;
        return response.to_vec().ok();
    }
    Some(wire)
}

/// A running responder.
#[derive(Debug, Clone)]
pub struct ZoneServer {
    pub address: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    asked: Asked,
}

impl ZoneServer {
    /// Starts serving `zone` on 127.0.0.1, UDP and TCP on one random port.
    #[must_use]
    pub fn start(zone: Zone) -> ZoneServer {
        let (udp, tcp) = (0..50)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
                let tcp = TcpListener::bind(udp.local_addr().ok()?).ok()?;
                Some((udp, tcp))
            })
            .expect("a free loopback port for UDP and TCP");
        let address = udp.local_addr().unwrap();
        let zone = Arc::new(Mutex::new(zone));
        let asked = Asked::default();
        let shared = Arc::clone(&zone);
        let log = Arc::clone(&asked);
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok((len, peer)) = udp.recv_from(&mut buffer) {
                let zone = shared.lock().unwrap().clone();
                let Some(wire) = respond(&zone, &buffer[..len], true, &log) else {
                    continue;
                };
                if zone.delay.is_zero() {
                    let _ = udp.send_to(&wire, peer);
                } else if let Ok(socket) = udp.try_clone() {
                    thread::spawn(move || {
                        thread::sleep(zone.delay);
                        let _ = socket.send_to(&wire, peer);
                    });
                }
            }
        });
        let shared = Arc::clone(&zone);
        let log = Arc::clone(&asked);
        thread::spawn(move || {
            for stream in tcp.incoming().flatten() {
                let zone = Arc::clone(&shared);
                let log = Arc::clone(&log);
                thread::spawn(move || serve_tcp(stream, &zone, &log));
            }
        });
        ZoneServer {
            address,
            zone,
            asked,
        }
    }

    /// How many times the server was asked for this type of this name, over UDP and TCP.
    #[must_use]
    pub fn times_asked(&self, name: &str, record_type: RecordType) -> usize {
        let name = key(name);
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|(asked, asked_type)| *asked == name && *asked_type == record_type)
            .count()
    }

    /// Serves another zone from now on.
    pub fn set_zone(&self, zone: Zone) {
        *self.zone.lock().unwrap() = zone;
    }

    /// The `--resolver` argument that points at this server.
    #[must_use]
    pub fn resolver_arg(&self) -> String {
        self.address.to_string()
    }
}

fn serve_tcp(mut stream: TcpStream, zone: &Mutex<Zone>, asked: &Asked) {
    loop {
        let mut length = [0u8; 2];
        if stream.read_exact(&mut length).is_err() {
            return;
        }
        let mut request = vec![0u8; usize::from(u16::from_be_bytes(length))];
        if stream.read_exact(&mut request).is_err() {
            return;
        }
        let zone = zone.lock().unwrap().clone();
        thread::sleep(zone.delay);
        if let Some(wire) = respond(&zone, &request, false, asked) {
            let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
            framed.extend(wire);
            if stream.write_all(&framed).is_err() {
                return;
            }
        }
    }
}
