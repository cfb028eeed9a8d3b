//! The pure core: model, messages, actions, effects and `update`, plus the
//! rollout plan, the canary analysis and the change policy. Nothing here
//! imports tokio, ratatui, an AWS SDK or reqwest.

pub mod action;
pub mod analysis;
pub mod change;
pub mod data;
pub mod effect;
pub mod model;
pub mod msg;
pub mod native;
pub mod plan;
pub mod policy;
pub mod releases;
pub mod update;
