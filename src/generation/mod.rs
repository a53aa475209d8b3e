pub mod brand_check;
pub mod palette_check;
pub mod content_types;
pub mod inference;
pub mod jobs;
pub mod prompt;
pub mod service;
