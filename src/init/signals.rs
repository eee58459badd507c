//! Signals: blocked and read from a signalfd, installed before anything else runs (whaleware
//! ignored SIGTERM until UP; dops-init does not). Children get an empty mask back (std resets it).
use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

/// Every signal dops-init handles or forwards.
pub const HANDLED: &[Signal] = &[
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGHUP,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGALRM,
    Signal::SIGCONT,
];

/// Signals passed on to the programs untouched.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGALRM,
    Signal::SIGCONT,
];

pub struct Signals {
    fd: SignalFd,
    wake_r: OwnedFd,
    wake_w: Arc<OwnedFd>,
}

/// Wakes the event loop from another thread (the watches' DNS pollers).
#[derive(Clone)]
pub struct Waker(Arc<OwnedFd>);

impl Waker {
    pub fn wake(&self) {
        let _ = nix::unistd::write(&*self.0, &[1]);
    }
}

impl Signals {
    /// Block the handled signals in this (the only) thread and open the signalfd. Threads started
    /// later inherit the mask, so every signal ends up here.
    pub fn install() -> nix::Result<Signals> {
        let mut set = SigSet::empty();
        for s in HANDLED {
            set.add(*s);
        }
        set.thread_block()?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        let (wake_r, wake_w) = nix::unistd::pipe2(OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)?;
        Ok(Signals {
            fd,
            wake_r,
            wake_w: Arc::new(wake_w),
        })
    }

    pub fn waker(&self) -> Waker {
        Waker(self.wake_w.clone())
    }

    /// Wait up to `timeout` for signals; returns those pending (possibly none).
    pub fn wait(&self, timeout: Option<Duration>) -> Vec<Signal> {
        let ms: i32 = match timeout {
            None => -1,
            Some(d) => d.as_millis().min(i32::MAX as u128) as i32,
        };
        let mut pfd = [
            libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.wake_r.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: two valid pollfds.
        unsafe { libc::poll(pfd.as_mut_ptr(), 2, ms) };
        if pfd[1].revents != 0 {
            let mut buf = [0u8; 64];
            while matches!(nix::unistd::read(&self.wake_r, &mut buf), Ok(n) if n > 0) {}
        }
        let mut out = Vec::new();
        while let Ok(Some(info)) = self.fd.read_signal() {
            if let Ok(s) = Signal::try_from(info.ssi_signo as i32) {
                if !out.contains(&s) || s == Signal::SIGUSR1 {
                    out.push(s);
                }
            }
        }
        out
    }
}

/// Parse `TERM`, `SIGTERM`, `term` or a number.
pub fn parse(s: &str) -> Option<Signal> {
    let t = s.trim();
    if let Ok(n) = t.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let up = t.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>().ok()
}

/// Give a child a clean signal state: an empty mask (std's posix_spawn path keeps ours, with
/// SIGTERM blocked) and default dispositions for the signals dops-init handles.
pub fn reset_in_child(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls (sigemptyset, sigprocmask, signal) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            for s in HANDLED {
                libc::signal(*s as libc::c_int, libc::SIG_DFL);
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signal_names() {
        assert_eq!(parse("TERM"), Some(Signal::SIGTERM));
        assert_eq!(parse("sigquit"), Some(Signal::SIGQUIT));
        assert_eq!(parse("SIGHUP"), Some(Signal::SIGHUP));
        assert_eq!(parse("9"), Some(Signal::SIGKILL));
        assert_eq!(parse("NOPE"), None);
    }
}
