//! Stripe, as far as billing needs it (E3): webhook signatures checked exactly as Stripe
//! documents them, events read into the few facts fulfilment uses, and the `Payments`
//! port (Checkout Sessions over Stripe's REST API, form-encoded) with its pure request
//! encoding. The adapter that sends the requests is `cf/adapters/stripe.rs`.

use crate::platform::ports::PortError;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

/// Stripe's default tolerance: a signed timestamp older than this is a replay.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    MissingHeader,
    /// No `t=` timestamp, or no `v1=` signature in the header.
    Malformed,
    /// The timestamp is outside the tolerance (a replayed or delayed request).
    Stale,
    /// No `v1` signature matches any configured secret.
    Mismatch,
}

impl SignatureError {
    /// What the sender is told (and the log records); never which secret was close.
    pub fn describe(&self) -> &'static str {
        match self {
            SignatureError::MissingHeader => "The Stripe-Signature header is missing.",
            SignatureError::Malformed => "The Stripe-Signature header is malformed.",
            SignatureError::Stale => "The signature's timestamp is outside the tolerance.",
            SignatureError::Mismatch => "No signature matches the expected signature for this payload.",
        }
    }
}

/// Stripe's scheme: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]`,
/// where each `v1` is HMAC-SHA256 over `"{t}.{raw body}"` keyed with the endpoint's
/// signing secret. Any `v1` matching any of `secrets` (several during a rotation)
/// passes; comparisons are constant-time; `v0` and unknown schemes are ignored, as
/// Stripe's libraries do. The check is in three steps so that the worker can compute
/// the MACs with WebCrypto (native code in workerd: hashing a 64 KB event in the wasm
/// cost ≈ 1.2 ms, docs/BENCHMARKS.md): `parse_signature_header`, then one MAC of
/// `signed_payload` per secret, then `check_signature`. `verify_signature` is the three
/// with this crate's HMAC.
pub fn verify_signature(header: Option<&str>, body: &[u8], secrets: &[String], now_seconds: i64) -> Result<i64, SignatureError> {
    let parsed = parse_signature_header(header)?;
    let payload = signed_payload(parsed.t, body);
    let expected: Vec<[u8; 32]> = signing_secrets(secrets).map(|secret| hmac_sha256(secret.as_bytes(), &payload)).collect();
    check_signature(&parsed, &expected, now_seconds)
}

/// A `Stripe-Signature` header, read: its timestamp and its `v1` signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub t: i64,
    pub signatures: Vec<Vec<u8>>,
}

pub fn parse_signature_header(header: Option<&str>) -> Result<SignatureHeader, SignatureError> {
    let header = header.filter(|h| !h.trim().is_empty()).ok_or(SignatureError::MissingHeader)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in header.split(',') {
        let Some((key, value)) = item.trim().split_once('=') else { continue };
        match key {
            "t" => timestamp = value.parse::<i64>().ok(),
            "v1" => signatures.extend(decode_hex(value)),
            _ => {}
        }
    }
    match (timestamp, signatures.is_empty()) {
        (Some(t), false) => Ok(SignatureHeader { t, signatures }),
        _ => Err(SignatureError::Malformed),
    }
}

/// The secrets a MAC is computed with (an empty one, from a stray comma, is none).
pub fn signing_secrets(secrets: &[String]) -> impl Iterator<Item = &String> {
    secrets.iter().filter(|s| !s.is_empty())
}

/// What Stripe signs: `"{t}.{raw body}"`.
pub fn signed_payload(t: i64, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{t}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

/// Passes when any of the header's signatures equals any `expected` MAC (one per
/// secret, over `signed_payload`) and the timestamp is within the tolerance. Every pair
/// is compared, in constant time, so the time taken does not say which one matched.
pub fn check_signature(header: &SignatureHeader, expected: &[[u8; 32]], now_seconds: i64) -> Result<i64, SignatureError> {
    let mut matched = false;
    for mac in expected {
        for signature in &header.signatures {
            matched |= signature.len() == mac.len() && signature.iter().zip(mac).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        }
    }
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if (now_seconds - header.t).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    Ok(header.t)
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// The header value a signer with `secret` sends at `t` (the stand-in's and tests' side).
pub fn sign(body: &[u8], secret: &str, t: i64) -> String {
    format!("t={t},v1={}", crate::platform::ids::hex(&hmac_sha256(secret.as_bytes(), &signed_payload(t, body))))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

// ---- events -------------------------------------------------------------------------------

/// The envelope every event has.
#[derive(Debug, Clone, Deserialize)]
pub struct EventEnvelope {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub created: i64,
}

/// The event types fulfilment acts on; anything else is acknowledged and recorded.
pub const HANDLED_TYPES: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "charge.succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
];

/// A Checkout Session as fulfilment needs it. The user, pack and credits travel in the
/// session's metadata, which only this server sets, so the session alone is enough to
/// fulfil it (even when the webhook or our own row was lost).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFacts {
    pub id: String,
    pub user_id: String,
    pub pack_id: String,
    pub credits: i64,
    pub amount_total: i64,
    pub currency: String,
    pub payment_intent: Option<String>,
    /// Stripe's `status`: open, complete, expired.
    pub status: String,
    /// Stripe's `payment_status`: paid, unpaid, no_payment_required.
    pub payment_status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeFacts {
    pub id: String,
    pub payment_intent: String,
    pub amount: i64,
    /// Cumulative: everything refunded on this charge so far.
    pub amount_refunded: i64,
    pub receipt_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeFacts {
    pub id: String,
    pub payment_intent: String,
    pub amount: i64,
    pub status: String,
}

/// What one event tells fulfilment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// Paid (`completed` with `paid`, or `async_payment_succeeded`).
    SessionPaid(SessionFacts),
    /// Completed but waiting for a delayed payment method: nothing to grant yet.
    SessionPending(SessionFacts),
    /// The delayed payment failed: nothing to grant.
    SessionFailed(SessionFacts),
    Charge(ChargeFacts),
    Dispute(DisputeFacts),
    /// A type we do not act on.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError(pub String);

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// An id field that may be expanded into an object (`"pi_1"` or `{"id": "pi_1", …}`).
fn id_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn int(v: &Value, key: &str) -> Result<i64, EventError> {
    v.get(key).and_then(Value::as_i64).filter(|n| *n >= 0).ok_or_else(|| EventError(format!("{key} is missing or not a whole number")))
}

/// Reads a Checkout Session object (from an event or from the API).
pub fn session_facts(object: &Value) -> Result<SessionFacts, EventError> {
    let id = text(object, "id").filter(|s| s.starts_with("cs_")).ok_or_else(|| EventError("not a checkout session".into()))?;
    let metadata = object.get("metadata").cloned().unwrap_or(Value::Null);
    let user_id = text(object, "client_reference_id")
        .or_else(|| text(&metadata, "user_id"))
        .ok_or_else(|| EventError("the session names no user".into()))?;
    let pack_id = text(&metadata, "pack").ok_or_else(|| EventError("the session names no pack".into()))?;
    let credits = text(&metadata, "credits")
        .and_then(|c| c.parse::<i64>().ok())
        .filter(|c| *c > 0)
        .ok_or_else(|| EventError("the session names no credits".into()))?;
    Ok(SessionFacts {
        id,
        user_id,
        pack_id,
        credits,
        amount_total: int(object, "amount_total")?,
        currency: text(object, "currency").unwrap_or_default(),
        payment_intent: id_of(object, "payment_intent"),
        status: text(object, "status").unwrap_or_default(),
        payment_status: text(object, "payment_status").unwrap_or_default(),
    })
}

/// Reads a verified event's body into the fact it carries.
pub fn parse_event(body: &[u8]) -> Result<(EventEnvelope, Fact), EventError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| EventError(format!("not JSON: {e}")))?;
    // Read from the parsed value in place: a 64 KB event is not copied.
    let envelope = EventEnvelope::deserialize(&value).map_err(|e| EventError(format!("not an event: {e}")))?;
    let object = value.pointer("/data/object").unwrap_or(&Value::Null);
    let fact = match envelope.event_type.as_str() {
        "checkout.session.completed" => {
            let s = session_facts(object)?;
            if s.payment_status == "paid" || s.payment_status == "no_payment_required" {
                Fact::SessionPaid(s)
            } else {
                Fact::SessionPending(s)
            }
        }
        "checkout.session.async_payment_succeeded" => Fact::SessionPaid(session_facts(object)?),
        "checkout.session.async_payment_failed" => Fact::SessionFailed(session_facts(object)?),
        "charge.succeeded" | "charge.refunded" => Fact::Charge(ChargeFacts {
            id: text(object, "id").ok_or_else(|| EventError("the charge has no id".into()))?,
            payment_intent: id_of(object, "payment_intent").ok_or_else(|| EventError("the charge has no payment intent".into()))?,
            amount: int(object, "amount")?,
            amount_refunded: object.get("amount_refunded").and_then(Value::as_i64).unwrap_or(0).max(0),
            receipt_url: text(object, "receipt_url"),
        }),
        "charge.dispute.created" | "charge.dispute.updated" | "charge.dispute.closed" => Fact::Dispute(DisputeFacts {
            id: text(object, "id").ok_or_else(|| EventError("the dispute has no id".into()))?,
            payment_intent: id_of(object, "payment_intent").ok_or_else(|| EventError("the dispute has no payment intent".into()))?,
            amount: int(object, "amount")?,
            status: text(object, "status").ok_or_else(|| EventError("the dispute has no status".into()))?,
        }),
        _ => Fact::Ignored,
    };
    Ok((envelope, fact))
}

// ---- the Payments port ----------------------------------------------------------------------

/// A credit pack on sale (from configuration).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pack {
    pub id: String,
    pub credits: i64,
    /// Price in the currency's minor units (cents).
    pub amount: i64,
    pub currency: String,
    /// A Stripe Price to sell; without one the session carries the price inline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stripe_price: Option<String>,
}

/// What a checkout is for.
pub struct CheckoutRequest<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
    pub pack: &'a Pack,
    pub success_url: String,
    pub cancel_url: String,
}

/// Stripe's form encoding of `POST /v1/checkout/sessions` (bracketed keys, in order).
pub fn checkout_form(req: &CheckoutRequest<'_>) -> Vec<(String, String)> {
    let p = req.pack;
    let mut form: Vec<(String, String)> = vec![
        ("mode".into(), "payment".into()),
        ("success_url".into(), req.success_url.clone()),
        ("cancel_url".into(), req.cancel_url.clone()),
        ("client_reference_id".into(), req.user_id.into()),
        ("customer_email".into(), req.email.into()),
        ("line_items[0][quantity]".into(), "1".into()),
    ];
    match &p.stripe_price {
        Some(price) => form.push(("line_items[0][price]".into(), price.clone())),
        None => form.extend([
            ("line_items[0][price_data][currency]".into(), p.currency.clone()),
            ("line_items[0][price_data][unit_amount]".into(), p.amount.to_string()),
            ("line_items[0][price_data][product_data][name]".into(), format!("{} Blimari credits", p.credits)),
        ]),
    }
    for (k, v) in [("user_id", req.user_id.to_owned()), ("pack", p.id.clone()), ("credits", p.credits.to_string())] {
        form.push((format!("metadata[{k}]"), v.clone()));
        form.push((format!("payment_intent_data[metadata][{k}]"), v));
    }
    form
}

/// `application/x-www-form-urlencoded`, as Stripe's libraries write it.
pub fn form_encode(pairs: &[(String, String)]) -> String {
    fn enc(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    }
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// A session Stripe created: where to send the browser.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreatedSession {
    pub id: String,
    pub url: String,
}

/// One page of `GET /v1/checkout/sessions`.
#[derive(Debug, Clone, Deserialize)]
pub struct SessionList {
    pub data: Vec<Value>,
    #[serde(default)]
    pub has_more: bool,
}

/// Stripe's REST API, as billing uses it.
#[allow(async_fn_in_trait)]
pub trait Payments {
    async fn create_checkout_session(&self, request: &CheckoutRequest<'_>, idempotency_key: &str) -> Result<CreatedSession, PortError>;
    /// Sessions created at or after `created_gte` (unix seconds), newest first.
    async fn list_checkout_sessions(&self, created_gte: i64, starting_after: Option<&str>) -> Result<SessionList, PortError>;
}

impl<T: Payments> Payments for &T {
    async fn create_checkout_session(&self, request: &CheckoutRequest<'_>, idempotency_key: &str) -> Result<CreatedSession, PortError> {
        (**self).create_checkout_session(request, idempotency_key).await
    }
    async fn list_checkout_sessions(&self, created_gte: i64, starting_after: Option<&str>) -> Result<SessionList, PortError> {
        (**self).list_checkout_sessions(created_gte, starting_after).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;
    /// Computed outside this code: `printf '%s' '1700000000.{"id":"evt_1","object":"event"}'
    /// | openssl dgst -sha256 -hmac whsec_test_secret` (and Python's `hmac` agrees).
    const VECTOR: &str = "0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd";
    const OTHER_SECRET_VECTOR: &str = "ce486949e2e39bec553617072a9bf7c086e490c7071f3324a664d8082cf43f97";
    const T: i64 = 1_700_000_000;

    fn secrets(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_independently_computed_signature_verifies() {
        let header = format!("t={T},v1={VECTOR}");
        assert_eq!(verify_signature(Some(&header), BODY, &secrets(&["whsec_test_secret"]), T + 10), Ok(T));
        assert_eq!(sign(BODY, "whsec_test_secret", T), header);
        assert_eq!(sign(BODY, "whsec_other", T), format!("t={T},v1={OTHER_SECRET_VECTOR}"));
    }

    #[test]
    fn the_worker_steps_agree_with_the_whole_check() {
        // The worker computes the MACs elsewhere (WebCrypto) and hands them to check_signature.
        let header = format!("t={T},v1={},v1={VECTOR}", "00".repeat(32));
        let parsed = parse_signature_header(Some(&header)).unwrap();
        assert_eq!(parsed.t, T);
        assert_eq!(signed_payload(T, BODY), [format!("{T}.").as_bytes(), BODY].concat());
        let mac: [u8; 32] = decode_hex(VECTOR).unwrap().try_into().unwrap();
        assert_eq!(check_signature(&parsed, &[[7; 32], mac], T + 300), Ok(T));
        assert_eq!(check_signature(&parsed, &[mac], T + 301), Err(SignatureError::Stale));
        assert_eq!(check_signature(&parsed, &[[7; 32]], T), Err(SignatureError::Mismatch));
        assert_eq!(check_signature(&parsed, &[], T), Err(SignatureError::Mismatch));
        // A prefix of the right MAC is not the MAC.
        let short = parse_signature_header(Some(&format!("t={T},v1={}", &VECTOR[..62]))).unwrap();
        assert_eq!(check_signature(&short, &[mac], T), Err(SignatureError::Mismatch));
    }

    #[test]
    fn any_v1_under_any_secret_passes_for_rotation() {
        let header = format!("t={T},v1={},v0=abcd,v1={VECTOR},x=1", "00".repeat(32));
        assert!(verify_signature(Some(&header), BODY, &secrets(&["whsec_new", "whsec_test_secret"]), T).is_ok());
        let header = format!("t={T},v1={OTHER_SECRET_VECTOR}");
        assert!(verify_signature(Some(&header), BODY, &secrets(&["whsec_test_secret", "whsec_other"]), T).is_ok());
    }

    #[test]
    fn tampering_a_wrong_secret_and_v0_only_are_refused() {
        let header = format!("t={T},v1={VECTOR}");
        let tampered = br#"{"id":"evt_2","object":"event"}"#;
        assert_eq!(verify_signature(Some(&header), tampered, &secrets(&["whsec_test_secret"]), T), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature(Some(&header), BODY, &secrets(&["whsec_wrong"]), T), Err(SignatureError::Mismatch));
        // The timestamp is signed too: moving it breaks the signature.
        let moved = format!("t={},v1={VECTOR}", T + 1);
        assert_eq!(verify_signature(Some(&moved), BODY, &secrets(&["whsec_test_secret"]), T), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature(Some(&format!("t={T},v0={VECTOR}")), BODY, &secrets(&["whsec_test_secret"]), T), Err(SignatureError::Malformed));
        assert_eq!(verify_signature(Some(&format!("v1={VECTOR}")), BODY, &secrets(&["whsec_test_secret"]), T), Err(SignatureError::Malformed));
        assert_eq!(verify_signature(None, BODY, &secrets(&["whsec_test_secret"]), T), Err(SignatureError::MissingHeader));
        assert_eq!(verify_signature(Some(""), BODY, &secrets(&["whsec_test_secret"]), T), Err(SignatureError::MissingHeader));
        assert_eq!(verify_signature(Some(&header), BODY, &[], T), Err(SignatureError::Mismatch));
    }

    #[test]
    fn the_tolerance_is_300_seconds_either_way() {
        let header = format!("t={T},v1={VECTOR}");
        let s = secrets(&["whsec_test_secret"]);
        assert!(verify_signature(Some(&header), BODY, &s, T + 300).is_ok());
        assert_eq!(verify_signature(Some(&header), BODY, &s, T + 301), Err(SignatureError::Stale));
        assert_eq!(verify_signature(Some(&header), BODY, &s, T - 301), Err(SignatureError::Stale));
    }

    fn session(payment_status: &str) -> Value {
        serde_json::json!({
            "id": "cs_test_1", "object": "checkout.session", "client_reference_id": "usr_1", "amount_total": 900,
            "currency": "usd", "payment_intent": "pi_1", "status": "complete", "payment_status": payment_status,
            "metadata": { "user_id": "usr_1", "pack": "starter", "credits": "100" }
        })
    }

    fn event(kind: &str, object: Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "id": "evt_1", "object": "event", "type": kind, "created": T, "data": { "object": object } })).unwrap()
    }

    #[test]
    fn events_are_read_into_facts() {
        let (env, fact) = parse_event(&event("checkout.session.completed", session("paid"))).unwrap();
        assert_eq!(env.event_type, "checkout.session.completed");
        let Fact::SessionPaid(s) = fact else { panic!("{fact:?}") };
        assert_eq!((s.user_id.as_str(), s.credits, s.amount_total, s.payment_intent.as_deref()), ("usr_1", 100, 900, Some("pi_1")));
        assert!(matches!(parse_event(&event("checkout.session.completed", session("unpaid"))).unwrap().1, Fact::SessionPending(_)));
        assert!(matches!(parse_event(&event("checkout.session.async_payment_failed", session("unpaid"))).unwrap().1, Fact::SessionFailed(_)));
        let charge = serde_json::json!({ "id": "ch_1", "payment_intent": { "id": "pi_1" }, "amount": 900, "amount_refunded": 300, "receipt_url": "https://r" });
        assert!(matches!(parse_event(&event("charge.refunded", charge)).unwrap().1, Fact::Charge(ChargeFacts { amount_refunded: 300, .. })));
        assert_eq!(parse_event(&event("customer.created", serde_json::json!({}))).unwrap().1, Fact::Ignored);
        assert!(parse_event(b"nope").is_err());
        let mut no_credits = session("paid");
        no_credits["metadata"]["credits"] = "x".into();
        assert!(parse_event(&event("checkout.session.completed", no_credits)).is_err());
    }

    #[test]
    fn the_checkout_form_is_stripes_bracket_encoding() {
        let pack = Pack { id: "starter".into(), credits: 100, amount: 900, currency: "usd".into(), stripe_price: None };
        let req = CheckoutRequest {
            user_id: "usr_1",
            email: "a+b@example.com",
            pack: &pack,
            success_url: "https://x/credits?checkout=success&session_id={CHECKOUT_SESSION_ID}".into(),
            cancel_url: "https://x/pricing".into(),
        };
        let body = form_encode(&checkout_form(&req));
        assert!(body.starts_with("mode=payment&success_url=https%3A%2F%2Fx%2Fcredits%3Fcheckout%3Dsuccess%26session_id%3D%7BCHECKOUT_SESSION_ID%7D&"));
        assert!(body.contains("&customer_email=a%2Bb%40example.com&"));
        assert!(body.contains("&line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=900&"));
        assert!(body.contains("&metadata%5Bcredits%5D=100&"));
        let priced = Pack { stripe_price: Some("price_1".into()), ..pack.clone() };
        let form = checkout_form(&CheckoutRequest { pack: &priced, ..req });
        assert!(form.contains(&("line_items[0][price]".into(), "price_1".into())));
        assert!(!form.iter().any(|(k, _)| k.contains("price_data")));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(crate::proptest_text::config())]

            #[test]
            fn a_signature_verifies_only_for_its_exact_body(body in proptest::collection::vec(any::<u8>(), 0..200), flip in any::<usize>()) {
                let header = sign(&body, "whsec_p", T);
                prop_assert!(verify_signature(Some(&header), &body, &secrets(&["whsec_p"]), T).is_ok());
                if !body.is_empty() {
                    let mut tampered = body.clone();
                    tampered[flip % body.len()] ^= 1;
                    prop_assert_eq!(verify_signature(Some(&header), &tampered, &secrets(&["whsec_p"]), T), Err(SignatureError::Mismatch));
                }
            }

            #[test]
            fn any_header_text_is_an_answer_not_a_panic(header in crate::proptest_text::tricky_text(80)) {
                let _ = verify_signature(Some(&header), b"{}", &secrets(&["s"]), T);
            }
        }
    }
}
