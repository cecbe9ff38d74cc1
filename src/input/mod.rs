//! Whole sources of replies: bounce messages and mail logs, read into replies with their
//! context (recipient, remote server, time) and classified like `smtpdiag explain` does.

pub mod logs;
