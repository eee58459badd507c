//! `dops update:<svc>|all`: run the UPDATE method (e.g. pull new data and reload) in every
//! running instance; same mechanics and report as `validate` (see `validate.rs`).
