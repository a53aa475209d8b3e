pub mod clock;
pub mod config;
pub mod db;
pub mod ids;
pub mod log;
pub mod neon;
pub mod ports;
pub mod queue_messages;
