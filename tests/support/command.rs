//! The binary under test, in a fixed environment.

#![allow(dead_code)]

use assert_cmd::Command;

/// `smtpdiag` with no locale and no colour preference inherited from the caller.
pub fn smtpdiag() -> Command {
    let mut cmd = Command::cargo_bin("smtpdiag").unwrap();
    cmd.env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    cmd
}
