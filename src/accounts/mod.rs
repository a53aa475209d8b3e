pub mod authentication;
pub mod email_address;
pub mod mail;
pub mod passwords;
pub mod queries;
pub mod security_events;
pub mod sessions;
pub mod throttle;
