//! G4: the OpenAPI 3.1 document of the JSON API, served at `/api/openapi.json`.

pub const DOCUMENT: &str = include_str!("openapi.json");
