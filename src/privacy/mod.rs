//! Data rights and retention (F1, F3–F6): the export (F1, `export/`), account closure and
//! erasure, the retention table the daily cron enforces, privacy requests, policy versions.

pub mod closure;
pub mod export;
pub mod policy;
pub mod requests;
pub mod retention;

#[cfg(test)]
mod tests;
