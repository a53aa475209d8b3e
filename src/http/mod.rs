pub mod csrf;
pub mod json_body;
pub mod problem;
pub mod routes;
pub mod security_headers;
pub mod openapi;
pub mod pagination;
