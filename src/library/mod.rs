pub mod brands;
pub mod images;
pub mod pixels;
pub mod uploads;
pub mod website;
