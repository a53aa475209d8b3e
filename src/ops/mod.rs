pub mod cron;
pub mod health;
pub mod probes;
