//! flightdeck: a terminal release console for canary deployments on AWS ECS
//! behind an ALB. See DESIGN.md for the architecture: a pure `core`, source
//! traits with adapters in `sources`, a tokio `runtime` that owns the model,
//! and ratatui views in `ui`.

pub mod app;
pub mod cli;
pub mod config;
pub mod core;
pub mod debug_log;
pub mod journal;
pub mod notify;
pub mod runtime;
pub mod secrets;
pub mod sources;
pub mod text;
pub mod ui;
