//! Data rights and retention (F3–F6): account closure and erasure, the retention table
//! the daily cron enforces, privacy requests, policy versions. (F1, the export, lives in
//! `export/`.)

pub mod closure;
pub mod policy;
pub mod requests;
pub mod retention;

#[cfg(test)]
mod tests;
