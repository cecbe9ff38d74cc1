//! A resolver that answers from a table: lets tests aim the probe at a fault server on
//! 127.0.0.1 without touching any DNS server.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use smtpdiag::dns::{Dns, Lookup, Outcome, QueryType, Rdata};

#[derive(Debug, Default)]
pub struct FakeDns {
    answers: HashMap<(String, QueryType), Outcome>,
}

impl FakeDns {
    /// `domain` has one MX, `mx.<domain>`, at 127.0.0.1; everything else is NXDOMAIN.
    pub fn single_mx(domain: &str) -> FakeDns {
        let mut dns = FakeDns::default();
        let exchange = format!("mx.{domain}");
        dns.answers.insert(
            (domain.to_string(), QueryType::Mx),
            Outcome::Answer {
                records: vec![Rdata::Mx {
                    preference: 10,
                    exchange: exchange.clone(),
                }],
            },
        );
        dns.answers.insert(
            (exchange.clone(), QueryType::A),
            Outcome::Answer {
                records: vec![Rdata::A(Ipv4Addr::LOCALHOST)],
            },
        );
        dns.answers
            .insert((exchange, QueryType::Aaaa), Outcome::NoData);
        dns
    }
}

impl FakeDns {
    /// Replaces the answer to one question.
    pub fn answer(mut self, name: &str, query_type: QueryType, outcome: Outcome) -> FakeDns {
        self.answers.insert((name.to_string(), query_type), outcome);
        self
    }
}

impl Dns for FakeDns {
    async fn query(&self, name: &str, query_type: QueryType) -> Lookup {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let outcome = self
            .answers
            .get(&(name.clone(), query_type))
            .cloned()
            .unwrap_or(Outcome::NxDomain);
        Lookup {
            name,
            query_type,
            outcome,
            duration: Duration::from_micros(1),
        }
    }
}
