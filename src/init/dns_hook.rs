//! THE place where dops-init talks to the DNS registration (`register.rs`, written by the DNS
//! engineer). The lifecycle calls only these methods:
//!
//! - `set_registered(true)` when the state becomes UP (and maintenance is off);
//! - `set_registered(false)` on RESTARTING, on maintenance (SIGUSR1) and in any other state;
//! - `stop()` on STOPPED/ERROR: withdraw the names now, waiting at most `WITHDRAW_WAIT`.
//!
//! `status()` is the `"dns"` object of state.json (`null` without `DNS_SERVICE_IP`). A bad DNS
//! environment does not stop the instance: it runs unregistered and says why in `"dns"."error"`.
use super::output::log;
use super::register::{self, DnsStatus, Registrar, RegistrationHandle};

use std::time::Duration;

const WITHDRAW_WAIT: Duration = Duration::from_secs(2);

enum Inner {
    None,
    /// No registration: a bad environment, or stopped; the value is what state.json shows.
    Fixed(DnsStatus),
    Live(RegistrationHandle),
}

pub struct Dns {
    inner: Inner,
    wanted: bool,
}

impl Dns {
    /// From the environment the engine gives every instance (`DNS_SERVICE_IP`, `DNS_KEY`, …).
    pub fn from_env() -> Dns {
        let inner = match Registrar::from_env() {
            Ok(Some(r)) => Inner::Live(register::spawn(r)),
            Ok(None) => Inner::None,
            Err(e) => {
                log(&format!("DNS registration disabled: {e}"));
                Inner::Fixed(DnsStatus {
                    registered: false,
                    names: Vec::new(),
                    error: Some(e.to_string()),
                })
            }
        };
        Dns {
            inner,
            wanted: false,
        }
    }

    pub fn set_registered(&mut self, on: bool) {
        if on == self.wanted {
            return;
        }
        self.wanted = on;
        if let Inner::Live(h) = &self.inner {
            h.set_registered(on);
        }
    }

    pub fn status(&self) -> Option<DnsStatus> {
        match &self.inner {
            Inner::None => None,
            Inner::Fixed(v) => Some(v.clone()),
            Inner::Live(h) => Some(h.status()),
        }
    }

    /// A registration is wanted but not confirmed yet (the lifecycle then polls the status).
    pub fn pending(&self) -> bool {
        match &self.inner {
            Inner::Live(h) => h.status().registered != self.wanted,
            _ => false,
        }
    }

    /// Withdraw (bounded wait); true when the names were registered until now.
    pub fn stop(&mut self) -> bool {
        let mut was_registered = false;
        if let Inner::Live(h) = std::mem::replace(&mut self.inner, Inner::None) {
            let status = h.status();
            was_registered = status.registered;
            h.withdraw_and_stop(WITHDRAW_WAIT);
            self.inner = Inner::Fixed(DnsStatus {
                registered: false,
                names: status.names,
                error: None,
            });
        }
        self.wanted = false;
        was_registered
    }
}
