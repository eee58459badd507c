//! The embedded dynamic DNS (`dops dns serve`), built on hickory-server.
//!
//! - [`registry`]: records with leases; APPEND / REPLACE / HIDE semantics of RFC 2136 UPDATEs.
//! - [`handler`]: authoritative answers, PTR, forwarding, updates, zone transfers.
//! - [`tsig`]: TSIG hmac-sha256: the keys ([`Credentials`], each with a [`Scope`]),
//!   verification, replay protection, response signing.
//! - [`scope`]: which names a key may change.
//! - [`forward`]: forwarding of names outside the zone to the upstream resolvers.
//! - [`server`]: UDP + TCP listeners, lease expiry, the records file.
//! - [`udp`]: the UDP receive loop, with [`cache`] (encoded answers keyed by the request).
//! - [`wire`]: a reply to bytes within the requester's size, TSIG over exactly what is sent.
//! - [`records`]: the records file the server writes and `dops dns:records` reads.
//! - `error`, `log`: the module's errors; the log of refusals and changes.
//!
//! This module never calls Docker: it learns names only from registrations. It imports nothing
//! from the rest of dops: the edge that starts it (`commands::dns`) hands it [`Credentials`], a
//! lookup from a key name to a secret and a scope.

pub mod cache;
mod error;
pub mod forward;
pub mod handler;
mod log;
pub mod records;
pub mod registry;
pub mod scope;
pub mod server;
pub mod tsig;
pub mod udp;
pub mod wire;

pub use error::DnsError;
pub use log::DnsLog;
pub use server::{serve, start, DnsConfig, DnsServer};
pub use tsig::{Credential, Credentials, Scope, ServicePolicy, SharedKey};
