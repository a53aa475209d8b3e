//! Data rights (PRODUCT.md F1–F6).

pub mod export;
