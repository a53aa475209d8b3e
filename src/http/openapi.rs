//! G4: the OpenAPI 3.1 document of the JSON API, served at `/api/openapi.json`.
//!
//! The document is hand-written JSON, `public/openapi.json`: a static asset, so its
//! 180 KB are not in the .wasm (the worker answers `/api/openapi.json` from the assets).
//! The tests below keep it in step with the route table, and
//! `tests/e2e/openapi.test.mjs` checks it against the running worker with schemathesis.

/// Where the document is among the static assets.
pub const ASSET_PATH: &str = "/openapi.json";

#[cfg(test)]
mod tests {
    const DOCUMENT: &str = include_str!("../../public/openapi.json");
    use crate::http::routes::{self, SAMPLES};
    use serde_json::Value;
    use std::collections::BTreeSet;

    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("public/openapi.json is not valid JSON")
    }

    /// `METHOD /path/{param}` of every operation in the document.
    fn operations(doc: &Value) -> Vec<(String, &Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                if METHODS.contains(&method.as_str()) {
                    out.push((format!("{} {path}", method.to_ascii_uppercase()), op));
                }
            }
        }
        out
    }

    /// Replaces every `{param}` with a sample value.
    fn concrete(path: &str) -> String {
        let mut out = String::new();
        let mut in_param = false;
        for c in path.chars() {
            match c {
                '{' => in_param = true,
                '}' => {
                    in_param = false;
                    out.push_str("x1");
                }
                _ if !in_param => out.push(c),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn the_document_is_openapi_3_1() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        assert_eq!(doc["components"]["securitySchemes"]["sessionCookie"]["name"], crate::accounts::sessions::COOKIE_NAME);
    }

    #[test]
    fn every_route_is_documented_and_every_operation_is_a_route() {
        let routes: BTreeSet<String> = SAMPLES
            .iter()
            .map(|(method, path)| routes::resolve(method, path).unwrap().label().to_owned())
            // The JSON API only: development diagnostics and the admin page are not in it.
            .filter(|label| !label.contains(" /api/_diag/") && label.contains(" /api/"))
            .collect();
        let doc = document();
        let documented: BTreeSet<String> = operations(&doc).into_iter().map(|(label, _)| label).collect();
        let undocumented: Vec<_> = routes.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routes).collect();
        assert!(undocumented.is_empty(), "routes missing from public/openapi.json: {undocumented:?}");
        assert!(unrouted.is_empty(), "operations in public/openapi.json the route table does not have: {unrouted:?}");
        // And each operation's path, filled in, resolves to the route of the same label.
        for label in &documented {
            let (method, path) = label.split_once(' ').unwrap();
            let route = routes::resolve(method, &concrete(path)).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(route.label(), label);
        }
    }

    #[test]
    fn operations_have_ids_and_every_error_is_a_problem_document() {
        let doc = document();
        let mut ids = BTreeSet::new();
        for (label, op) in operations(&doc) {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{label} has no operationId"));
            assert!(ids.insert(id.to_owned()), "operationId {id} is used twice");
            assert!(op["security"].is_array(), "{label} does not say whether it needs a session");
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{label} has no responses"));
            assert!(responses.contains_key("500"), "{label} does not document 500");
            for (status, response) in responses {
                let response = resolve(&doc, response);
                if status.starts_with('4') || status.starts_with('5') {
                    let content = response["content"].as_object().unwrap_or_else(|| panic!("{label} {status} has no content"));
                    assert_eq!(content.keys().collect::<Vec<_>>(), ["application/problem+json"], "{label} {status}");
                }
            }
            let writes = !label.starts_with("GET ");
            if writes {
                assert!(responses.contains_key("403"), "{label} changes state, so it can be refused as cross-site (403)");
            }
        }
    }

    #[test]
    fn the_content_types_are_the_ones_the_code_sells() {
        let doc = document();
        let documented: Vec<&str> = doc["components"]["schemas"]["GenerationRequest"]["properties"]["content_type"]["enum"]
            .as_array()
            .expect("content_type enum")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let sold: Vec<&str> = crate::generation::content_types::CONTENT_TYPES.iter().map(|c| c.id).collect();
        assert_eq!(documented, sold);
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        fn walk(doc: &Value, v: &Value) {
            match v {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        assert!(!resolve(doc, v).is_null(), "dangling $ref {r}");
                    }
                    map.values().for_each(|x| walk(doc, x));
                }
                Value::Array(items) => items.iter().for_each(|x| walk(doc, x)),
                _ => {}
            }
        }
        walk(&doc, &doc);
    }

    /// Follows a local `$ref` (one level is all the document uses for responses).
    fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => doc.pointer(r.trim_start_matches('#')).unwrap_or(&Value::Null),
            None => v,
        }
    }
}
