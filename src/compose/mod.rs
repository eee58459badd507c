//! `dops import compose`: a Compose file → a dops project.

pub mod dotenv;
pub mod interpolate;
pub mod yaml;
