//! Which process left a name behind, and whether it is still running.
//!
//! Every name a batch process leaves in shared places carries its process tag
//! `<host>-<pid>`: its workers (`<host>-<pid>-w<N>`, in leases and upload intents), their
//! scratch folders (`scratch/<host>-<pid>-w<N>`), and the store's probe objects
//! (`.tawthiq-probe-<host>-<pid>-<nanos>`). At start, a run judges such names of *its own
//! host* only: the process is gone when no process has that id any more, or when the id is
//! the run's own (a reused id: the run has not started anything yet). A name of another host
//! is never judged gone, since its process cannot be seen from here: its lease ends it.
//!
//! Hosts must have distinct names (`/etc/hostname`) for this to hold: two machines of one
//! name would judge each other's workers by their own process table. A mistaken judgement
//! costs work, never evidence: a released account's worker is fenced out, and an upload is
//! recorded or removed through the state store's rules either way.

use rustix::process::{Pid, test_kill_process};

/// This machine's name as worker names carry it (`/etc/hostname`, else `host`).
pub fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned())
}

/// `<host>-<pid>`: this process's tag, distinct for every process of a scale-out run.
pub fn process_tag() -> String {
    format!("{}-{}", host_name(), std::process::id())
}

/// How a name is judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judge {
    host: String,
    own_pid: u32,
}

impl Judge {
    /// Judges names for this host and process.
    pub fn here() -> Judge {
        Judge {
            host: host_name(),
            own_pid: std::process::id(),
        }
    }

    /// Judges names as if on `host`, as process `own_pid` (tests).
    pub fn new(host: &str, own_pid: u32) -> Judge {
        Judge {
            host: host.to_owned(),
            own_pid,
        }
    }

    /// The pid of a worker name `<host>-<pid>-w<N>` of this host; `None` for any other name.
    pub fn worker_pid(&self, worker: &str) -> Option<u32> {
        let (pid, rest) = self.split(worker)?;
        let n = rest.strip_prefix("-w")?;
        (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(pid)
    }

    /// The pid of a probe object name `.tawthiq-probe-<host>-<pid>-<nanos>` of this host.
    pub fn probe_pid(&self, name: &str) -> Option<u32> {
        let file = name.rsplit('/').next().unwrap_or(name);
        let (pid, rest) = self.split(file.strip_prefix(PROBE_PREFIX)?)?;
        let n = rest.strip_prefix('-')?;
        (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then_some(pid)
    }

    /// Whether the worker named `worker` belonged to a process of this host that is gone.
    pub fn worker_gone(&self, worker: &str) -> bool {
        self.worker_pid(worker)
            .is_some_and(|pid| self.pid_gone(pid))
    }

    /// Whether the probe object `name` was left by a process of this host that is gone.
    pub fn probe_gone(&self, name: &str) -> bool {
        self.probe_pid(name).is_some_and(|pid| self.pid_gone(pid))
    }

    fn pid_gone(&self, pid: u32) -> bool {
        if pid == self.own_pid {
            // Our own id in a name we did not make yet: an earlier process that had it.
            return true;
        }
        let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
            return false;
        };
        // ESRCH: no such process. EPERM: it exists (another user's).
        matches!(test_kill_process(pid), Err(e) if e == rustix::io::Errno::SRCH)
    }

    /// `(pid, rest)` of `<host>-<pid><rest>` when the host is this one.
    fn split<'a>(&self, name: &'a str) -> Option<(u32, &'a str)> {
        let after = name.strip_prefix(self.host.as_str())?.strip_prefix('-')?;
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let pid = after[..digits].parse().ok()?;
        Some((pid, &after[digits..]))
    }
}

/// Names of the store's probe objects start with this, then the process tag.
pub const PROBE_PREFIX: &str = ".tawthiq-probe-";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_this_host_only() {
        let judge = Judge::new("web", 77);
        assert_eq!(judge.worker_pid("web-123-w0"), Some(123));
        assert_eq!(judge.worker_pid("web-123-w12"), Some(123));
        // Another host whose name extends ours, and malformed names: not ours to judge.
        assert_eq!(judge.worker_pid("web-1-5000-w0"), None);
        assert_eq!(judge.worker_pid("db-123-w0"), None);
        assert_eq!(judge.worker_pid("web-123"), None);
        assert_eq!(judge.worker_pid("web-123-w"), None);
        assert_eq!(judge.worker_pid("web--w0"), None);
        assert_eq!(judge.probe_pid(".tawthiq-probe-web-123-456789"), Some(123));
        assert_eq!(
            judge.probe_pid("sub/.tawthiq-probe-web-123-456789"),
            Some(123)
        );
        assert_eq!(judge.probe_pid(".tawthiq-probe-db-123-456789"), None);
        assert_eq!(judge.probe_pid(".tawthiq-probe-web-123"), None);
    }

    #[test]
    fn live_dead_and_own_processes() {
        let judge = Judge::here();
        let host = host_name();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let live = format!("{host}-{}-w0", child.id());
        assert!(!judge.worker_gone(&live), "a running process is not gone");
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(judge.worker_gone(&live), "a reaped process is gone");
        // Our own id is a reused one: nothing of ours exists yet when names are judged.
        assert!(judge.worker_gone(&format!("{host}-{}-w3", std::process::id())));
        // pid 1 always runs.
        assert!(!judge.worker_gone(&format!("{host}-1-w0")));
        assert!(!judge.worker_gone("another-machine-1234567-w0"));
    }
}
