//! What travels on the queues, and what a consumer decides about each message.
//!
//! Consumers are functions from a message to an [`Outcome`]; the entry point applies
//! the outcome (ack, retry with a delay, or move to the dead-letter queue), so a
//! consumer never panics on a bad message and never acks by accident.

use serde::{Deserialize, Serialize};

/// The queues, by their role. Names match `wrangler.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueName {
    Generation,
    Billing,
    GenerationDeadLetter,
    BillingDeadLetter,
    /// F1: building data exports, one per invocation.
    Export,
    ExportDeadLetter,
}

impl QueueName {
    pub const ALL: [QueueName; 6] = [
        QueueName::Generation,
        QueueName::Billing,
        QueueName::GenerationDeadLetter,
        QueueName::BillingDeadLetter,
        QueueName::Export,
        QueueName::ExportDeadLetter,
    ];

    /// The queue's name in Cloudflare (what a consumer's batch reports).
    pub fn queue_name(self) -> &'static str {
        match self {
            QueueName::Generation => "blimari-generation",
            QueueName::Billing => "blimari-billing",
            QueueName::GenerationDeadLetter => "blimari-generation-dlq",
            QueueName::BillingDeadLetter => "blimari-billing-dlq",
            QueueName::Export => "blimari-exports",
            QueueName::ExportDeadLetter => "blimari-exports-dlq",
        }
    }

    /// The producer binding that sends to it.
    pub fn binding(self) -> &'static str {
        match self {
            QueueName::Generation => "GENERATION_QUEUE",
            QueueName::Billing => "BILLING_QUEUE",
            QueueName::GenerationDeadLetter => "GENERATION_DLQ",
            QueueName::BillingDeadLetter => "BILLING_DLQ",
            QueueName::Export => "EXPORT_QUEUE",
            QueueName::ExportDeadLetter => "EXPORT_DLQ",
        }
    }

    pub fn from_queue_name(name: &str) -> Option<QueueName> {
        QueueName::ALL.into_iter().find(|q| q.queue_name() == name)
    }

    /// The short name used in URLs and records: `generation`, `billing`, …
    pub fn short(self) -> &'static str {
        match self {
            QueueName::Generation => "generation",
            QueueName::Billing => "billing",
            QueueName::GenerationDeadLetter => "generation-dlq",
            QueueName::BillingDeadLetter => "billing-dlq",
            QueueName::Export => "exports",
            QueueName::ExportDeadLetter => "exports-dlq",
        }
    }

    pub fn from_short(name: &str) -> Option<QueueName> {
        QueueName::ALL.into_iter().find(|q| q.short() == name)
    }

    pub fn dead_letter(self) -> Option<QueueName> {
        match self {
            QueueName::Generation => Some(QueueName::GenerationDeadLetter),
            QueueName::Billing => Some(QueueName::BillingDeadLetter),
            QueueName::Export => Some(QueueName::ExportDeadLetter),
            _ => None,
        }
    }

    pub fn is_dead_letter(self) -> bool {
        self.dead_letter().is_none()
    }
}

/// Every message body, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum QueueMessage {
    /// A diagnostics probe: proves a queue delivers, retries and dead-letters.
    /// `fail` makes every delivery ask for a retry until the queue gives up.
    Probe { probe_id: String, fail: bool },
    /// Run a generation job (D3).
    Generate { job_id: String },
    /// Apply a verified Stripe event, stored in `stripe_events` (E4).
    StripeEvent { event_id: String },
    /// Build a data export (F1), a row of `exports`.
    Export { export_id: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ack,
    /// Deliver again after this many seconds (the queue's `max_retries` still applies,
    /// after which it lands in the dead-letter queue).
    Retry { delay_seconds: u32 },
    /// Not worth retrying (cannot be parsed, refers to nothing): move it to the
    /// dead-letter queue at once, where it is recorded for a person to look at.
    DeadLetter { reason: String },
}

/// Exponential backoff for the `attempt`-th retry (1-based): 1 s, 2 s, 4 s, … capped.
pub fn backoff_seconds(attempt: u32, cap_seconds: u32) -> u32 {
    let exp = attempt.saturating_sub(1).min(16);
    (1u32 << exp).min(cap_seconds)
}

/// Parses a message body; anything unparseable is dead-lettered, not retried, since
/// no number of retries will make it parse.
pub fn parse_message(body: &serde_json::Value) -> Result<QueueMessage, Outcome> {
    serde_json::from_value(body.clone()).map_err(|e| Outcome::DeadLetter { reason: format!("unreadable message: {e}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_round_trip() {
        for q in QueueName::ALL {
            assert_eq!(QueueName::from_queue_name(q.queue_name()), Some(q));
            assert_eq!(QueueName::from_short(q.short()), Some(q));
        }
        assert_eq!(QueueName::from_short("nope"), None);
    }

    #[test]
    fn work_queues_have_a_dead_letter_queue_and_those_have_none() {
        assert_eq!(QueueName::Generation.dead_letter(), Some(QueueName::GenerationDeadLetter));
        assert!(QueueName::BillingDeadLetter.is_dead_letter());
        assert!(!QueueName::Billing.is_dead_letter());
    }

    /// The queue names in code must be the ones `wrangler.toml` declares.
    #[test]
    fn wrangler_toml_declares_every_queue_and_binding() {
        let toml = include_str!("../../wrangler.toml");
        for q in QueueName::ALL {
            assert!(toml.contains(&format!("queue = \"{}\"", q.queue_name())), "{}", q.queue_name());
            assert!(toml.contains(&format!("binding = \"{}\"", q.binding())), "{}", q.binding());
        }
        for q in [QueueName::Generation, QueueName::Billing, QueueName::Export] {
            let dlq = q.dead_letter().unwrap().queue_name();
            assert!(toml.contains(&format!("dead_letter_queue = \"{dlq}\"")), "{dlq}");
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!((1..=5).map(|a| backoff_seconds(a, 10)).collect::<Vec<_>>(), vec![1, 2, 4, 8, 10]);
        assert_eq!(backoff_seconds(40, 300), 300);
    }

    #[test]
    fn messages_are_tagged_by_kind_and_strict() {
        let m = QueueMessage::Probe { probe_id: "prb_1".into(), fail: false };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["kind"], "probe");
        assert_eq!(parse_message(&v), Ok(m));
        assert!(matches!(parse_message(&serde_json::json!({"kind":"bogus"})), Err(Outcome::DeadLetter { .. })));
        assert!(matches!(parse_message(&serde_json::json!("text")), Err(Outcome::DeadLetter { .. })));
    }
}
