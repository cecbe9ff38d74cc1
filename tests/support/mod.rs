pub mod command;
pub mod english;
pub mod fake_dns;
pub mod fault_server;
pub mod lab;
pub mod schema;
pub mod zone_server;
