//! `dops import compose`: a Compose file → a dops project.

pub mod dockerfile_gen;
pub mod dotenv;
pub mod health;
pub mod interpolate;
pub mod model;
pub mod reader;
pub mod report;
pub mod yaml;
