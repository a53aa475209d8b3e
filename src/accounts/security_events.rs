//! Security events (A5): what happened to an account, shown to its owner as "recent
//! activity". Rows hold the kind, time and a device label; never a password, token or IP.

use crate::platform::db::Statement;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    SignedUp,
    SignedIn,
    SignInFailed,
    SignedOut,
    SignedOutEverywhere,
    SessionRevoked,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailVerified,
    EmailChangeRequested,
    EmailChanged,
    ProfileUpdated,
    /// D5: a prompt the moderation endpoint flagged (an abuse event).
    PromptRefused,
    /// G3: an admin's own actions (in the admin's activity) …
    AdminCreditsAdjusted,
    AdminJobReplayed,
    AdminWebhookRerun,
    AdminPrivacyRequestUpdated,
    AdminRoleGranted,
    AdminRoleRevoked,
    /// … and, where they touch a user, in that user's activity.
    CreditsAdjusted,
    GenerationReplayed,
    PrivacyRequestUpdated,
    /// F1: a data export was asked for, and was ready.
    ExportRequested,
    ExportReady,
    /// F3, F5, F6: closure, reopening, privacy requests, policy notices.
    AccountClosed,
    AccountReopened,
    PrivacyRequestMade,
    PolicyNoticeSeen,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SignedUp => "signed_up",
            EventKind::SignedIn => "signed_in",
            EventKind::SignInFailed => "sign_in_failed",
            EventKind::SignedOut => "signed_out",
            EventKind::SignedOutEverywhere => "signed_out_everywhere",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::PasswordChanged => "password_changed",
            EventKind::PasswordResetRequested => "password_reset_requested",
            EventKind::PasswordReset => "password_reset",
            EventKind::EmailVerified => "email_verified",
            EventKind::EmailChangeRequested => "email_change_requested",
            EventKind::EmailChanged => "email_changed",
            EventKind::ProfileUpdated => "profile_updated",
            EventKind::PromptRefused => "prompt_refused",
            EventKind::AdminCreditsAdjusted => "admin_credits_adjusted",
            EventKind::AdminJobReplayed => "admin_job_replayed",
            EventKind::AdminWebhookRerun => "admin_webhook_rerun",
            EventKind::AdminPrivacyRequestUpdated => "admin_privacy_request_updated",
            EventKind::AdminRoleGranted => "admin_role_granted",
            EventKind::AdminRoleRevoked => "admin_role_revoked",
            EventKind::CreditsAdjusted => "credits_adjusted",
            EventKind::GenerationReplayed => "generation_replayed",
            EventKind::PrivacyRequestUpdated => "privacy_request_updated",
            EventKind::ExportRequested => "export_requested",
            EventKind::ExportReady => "export_ready",
            EventKind::AccountClosed => "account_closed",
            EventKind::AccountReopened => "account_reopened",
            EventKind::PrivacyRequestMade => "privacy_request_made",
            EventKind::PolicyNoticeSeen => "policy_notice_seen",
        }
    }
}

/// The statement that records one event; callers put it in the same batch as the
/// change it describes, so the record and the change land together.
pub fn record(user_id: &str, kind: EventKind, device: &str, now_ms: i64) -> Statement {
    Statement::new("INSERT INTO security_events (id, user_id, kind, device, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(crate::platform::ids::new_id("evt"))
        .bind(user_id)
        .bind(kind.as_str())
        .bind(device)
        .bind(now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialise_as_their_names() {
        for kind in [EventKind::SignedUp, EventKind::SignInFailed, EventKind::EmailChangeRequested] {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }
}
