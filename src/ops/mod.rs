pub mod cron;
pub mod health;
pub mod probes;
pub mod scrub;
pub mod sentry;
