//! THE place where dops-init talks to the DNS registration (`register.rs`, written by the DNS
//! engineer). The lifecycle calls only these three methods:
//!
//! - `set_registered(true)` when the state becomes UP (and maintenance is off);
//! - `set_registered(false)` on RESTARTING, on maintenance (SIGUSR1) and on any other state;
//! - `stop()` on STOPPED/ERROR: withdraw the names now, with a bounded wait.
//!
//! `status()` is the `"dns"` object of state.json (`null` without a DNS).
//!
//! Until `src/init/register.rs` is merged this adapter has no registrar: with `DNS_SERVICE_IP`
//! set it says once that this build cannot register, and `status()` stays `null`.
use super::output::log;
use serde_json::Value;

pub struct Dns {
    wanted: Option<bool>,
    warned: bool,
}

impl Dns {
    pub fn from_env() -> Dns {
        Dns {
            wanted: std::env::var_os("DNS_SERVICE_IP").map(|_| false),
            warned: false,
        }
    }

    pub fn set_registered(&mut self, on: bool) {
        if let Some(w) = self.wanted.as_mut() {
            *w = on;
            if on && !self.warned {
                self.warned = true;
                log("DNS_SERVICE_IP is set but this dops-init was built without DNS registration");
            }
        }
    }

    pub fn status(&self) -> Option<Value> {
        None
    }

    pub fn stop(&mut self) {
        self.wanted = None;
    }
}
