pub mod brands;
pub mod images;
pub mod uploads;
pub mod website;
