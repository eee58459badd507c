//! The embedded dynamic DNS (`dops dns serve`), built on hickory-server.
//!
//! - [`registry`]: records with leases; APPEND / REPLACE / HIDE semantics of RFC 2136 UPDATEs.
//! - [`handler`]: the hickory `RequestHandler`: authoritative answers, PTR, forwarding, updates.
//! - [`tsig`]: TSIG hmac-sha256 verification, replay protection, response signing.
//! - [`forward`]: forwarding of names outside the zone to the upstream resolvers.
//! - [`server`]: UDP + TCP listeners, lease expiry, the records file.
//! - [`udp`]: the UDP receive loop (hickory `Request`/`RequestHandler`, answers sent directly).
//! - [`records`]: the records file the server writes and `dops dns:records` reads.
//! - `error`, `log`: the module's errors; the log of refusals and changes.
//!
//! This module never calls Docker: it learns names only from registrations. It imports nothing
//! from the rest of dops: the edge that starts it (`commands::dns`) hands it a [`SharedKey`].

mod error;
pub mod forward;
pub mod handler;
mod log;
pub mod records;
pub mod registry;
pub mod server;
pub mod tsig;
pub mod udp;

pub use error::DnsError;
pub use log::DnsLog;
pub use server::{serve, start, DnsConfig, DnsServer};
pub use tsig::SharedKey;
