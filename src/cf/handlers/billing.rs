//! Billing over HTTP (E3, E5): the packs, checkout, the purchases list and Stripe's
//! webhook. The rules are `credits::billing`; the signature scheme `credits::stripe`.

use crate::accounts::authentication::SignedIn;
use crate::accounts::queries;
use crate::cf::adapters::webcrypto::hmac_sha256;
use crate::cf::context::Ctx;
use crate::cf::http::{json, read_body, read_json, Handled, PageQuery};
use crate::credits::billing::{self, Recorded};
use crate::credits::stripe::{self, CheckoutRequest};
use crate::http::problem::AppError;
use crate::platform::db::Db;
use crate::platform::log::{self, Level};
use crate::platform::ports::Jobs;
use crate::platform::queue_messages::{QueueMessage, QueueName};
use serde::Deserialize;
use worker::Request;

/// Stripe's events are small; this leaves room for large line-item lists.
const WEBHOOK_MAX_BYTES: usize = 512 * 1024;

pub fn packs(ctx: &Ctx<'_>) -> Handled {
    let items: Vec<_> = ctx
        .config
        .billing
        .packs
        .iter()
        .map(|p| serde_json::json!({ "id": p.id, "credits": p.credits, "amount": p.amount, "currency": p.currency }))
        .collect();
    json(200, &serde_json::json!({ "items": items }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckoutBody {
    pack: String,
}

/// E3: a Checkout Session for one pack; the browser goes to `url`.
pub async fn checkout(ctx: &Ctx<'_>, me: &SignedIn, mut req: Request) -> Handled {
    let key = req.headers().get("Idempotency-Key").ok().flatten();
    let body: CheckoutBody = read_json(&mut req, ctx.config).await?;
    let pack = billing::find_pack(&ctx.config.billing.packs, &body.pack)
        .ok_or_else(|| AppError::validation("pack", "Choose one of the packs from /api/billing/packs."))?;
    let user = queries::find_user(&ctx.db, &me.user_id).await?.ok_or(AppError::Unauthorized)?;
    if user.email_verified_at.is_none() {
        return Err(AppError::Forbidden { detail: "Confirm your email address before buying credits.".into() });
    }
    let Some(payments) = ctx.payments() else {
        return Err(AppError::ServiceUnavailable { detail: "Payments are not set up on this server. Nothing was charged.".into() });
    };
    let key = match key {
        Some(k) if !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()) => format!("checkout:{}:{k}", me.user_id),
        Some(_) => return Err(AppError::validation("Idempotency-Key", "Use 1–200 visible ASCII characters.")),
        None => crate::platform::ids::new_id("checkout"),
    };
    // Stripe sends the browser back where it came from: in production the configured
    // origin; in development the one the browser used (wrangler.toml names production's).
    let origin = match req.url() {
        Ok(url) if !ctx.config.diagnostics_enabled() || url.host_str().is_none() => ctx.origin.clone(),
        Ok(url) => url.origin().ascii_serialization(),
        Err(_) => ctx.origin.clone(),
    };
    let request = CheckoutRequest {
        user_id: &me.user_id,
        email: &user.email,
        pack,
        success_url: format!("{origin}/credits?checkout=success&session_id={{CHECKOUT_SESSION_ID}}"),
        cancel_url: format!("{origin}/pricing?checkout=cancelled"),
    };
    let created = billing::start_checkout(&ctx.db, &payments, &request, &key, ctx.now).await?;
    json(201, &serde_json::json!({ "session_id": created.id, "url": created.url }))
}

/// E5: purchases with their status and Stripe's receipt link.
pub async fn purchases(ctx: &Ctx<'_>, me: &SignedIn, req: &Request) -> Handled {
    let query = PageQuery::of(req, 20)?;
    let items = billing::purchases(&ctx.db, &me.user_id, &query.page).await?;
    query.answer(&items, |p| (p.created_at, p.id.as_str()), items.iter().map(|p| p.view()).collect::<Vec<_>>())
}

fn refuse(reason: &str, detail: &str) -> AppError {
    // Recorded for the operator; Stripe shows the status and body in its dashboard.
    log::emit(Level::Info, "stripe webhook refused", serde_json::json!({ "reason": reason }));
    AppError::BadRequest { detail: detail.into() }
}

/// E3: verifies the signature over the raw body, stores the event once by its id and
/// queues it for the billing consumer; answers at once. A replay is acknowledged and
/// changes nothing.
pub async fn webhook(ctx: &Ctx<'_>, mut req: Request) -> Handled {
    let secrets = &ctx.config.billing.webhook_secrets;
    if secrets.is_empty() {
        log::emit(Level::Error, "stripe webhook without STRIPE_WEBHOOK_SECRET", serde_json::json!({}));
        return Err(AppError::ServiceUnavailable { detail: "Webhooks are not set up on this server.".into() });
    }
    let header = req.headers().get("Stripe-Signature").ok().flatten();
    let body = read_body(&mut req, WEBHOOK_MAX_BYTES, AppError::PayloadTooLarge { limit_bytes: WEBHOOK_MAX_BYTES }).await?;
    // The signature check of `stripe::verify_signature`, with the MACs from WebCrypto.
    let signed = stripe::parse_signature_header(header.as_deref()).map_err(|e| refuse(&format!("{e:?}"), e.describe()))?;
    let payload = stripe::signed_payload(signed.t, &body);
    let mut expected = Vec::new();
    for secret in stripe::signing_secrets(secrets) {
        expected.push(hmac_sha256(secret.as_bytes(), &payload).await.map_err(|e| AppError::internal(e.0))?);
    }
    if let Err(e) = stripe::check_signature(&signed, &expected, ctx.now / 1000) {
        return Err(refuse(&format!("{e:?}"), e.describe()));
    }
    let (envelope, _) = match stripe::parse_event(&body) {
        Ok(parsed) => parsed,
        // Signed by Stripe but unreadable to us: refused, so it shows in Stripe's dashboard.
        Err(e) => return Err(refuse(&e.0, "The event could not be read.")),
    };
    let recorded = billing::record_event(&ctx.db, &envelope, &body, ctx.now).await?;
    if recorded == Recorded::New {
        let message = QueueMessage::StripeEvent { event_id: envelope.id.clone() };
        if let Err(e) = ctx.queues().send(QueueName::Billing, &message).await {
            log::emit(Level::Error, "queueing a stripe event failed", serde_json::json!({ "event_id": envelope.id, "error": e.0 }));
            // Forgotten, so that Stripe's retry of this 503 stores and queues it again.
            let _ = ctx.db.run(billing::forget_event(&envelope.id)).await;
            return Err(AppError::ServiceUnavailable { detail: "The event could not be queued; retry later.".into() });
        }
    }
    let status = match recorded {
        Recorded::New => "queued",
        Recorded::Duplicate => "duplicate",
        Recorded::Ignored => "ignored",
    };
    json(200, &serde_json::json!({ "received": true, "status": status }))
}
