//! SIGINT (Ctrl-C) and SIGTERM (what systemd, Docker and Kubernetes send to stop a service)
//! mean the same to every command that writes: stop cleanly, leave no partial file behind.
//! The exit code says which signal it was, by the shell's convention of 128 + its number:
//! 130 after SIGINT, 143 after SIGTERM.

use std::fmt;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

/// A stop request from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// 128 + the signal's number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// The error of a command stopped by a signal; `main` exits with the signal's code.
#[derive(Debug)]
pub struct Interrupted {
    pub signal: Signal,
    /// What was left and how to go on.
    pub message: String,
}

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interrupted by {}: {}", self.signal.name(), self.message)
    }
}

impl std::error::Error for Interrupted {}

/// Both signals, caught from the moment this is made (inside a tokio runtime): neither ends the
/// process by itself any more.
pub struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn listen() -> anyhow::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("listening for SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
        })
    }

    /// The next SIGINT or SIGTERM (one that came before this call counts).
    pub async fn next(&mut self) -> Signal {
        tokio::select! {
            Some(()) = self.interrupt.recv() => Signal::Interrupt,
            Some(()) = self.terminate.recv() => Signal::Terminate,
        }
    }
}
