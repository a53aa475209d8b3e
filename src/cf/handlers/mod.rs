//! The HTTP handlers of each feature: parse the request, call the core, answer.

pub mod accounts;
pub mod billing;
pub mod admin;
pub mod diagnostics;
pub mod exports;
pub mod generation;
pub mod library;
pub mod privacy;
