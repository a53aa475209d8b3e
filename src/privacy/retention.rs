//! F4: the retention table — the one place that says what is kept, for how long, where,
//! and which step deletes it — and the daily run that enforces every row across the
//! database, R2 and KV.
//!
//! The README's table and `public/data-retention.html` are rendered from `TABLE`
//! (`render_markdown`, `render_html`); a test keeps all three identical.
//!
//! Every run is bounded by a budget of operations (`RETENTION_RUN_BUDGET`, default
//! `DEFAULT_RUN_BUDGET`): each database query or batch, R2 delete, KV delete and email
//! costs one. Cloudflare allows 1,000 subrequests per invocation on the paid plan (50 on
//! the free plan); the default leaves room for the billing reconciliation that runs after
//! it. Work left over stays expired and is picked up by the next run, where it stopped:
//! every step deletes oldest first and records nothing that could be lost.

use crate::accounts::mail::Mailer;
use crate::accounts::sessions::SessionStore;
use crate::platform::clock::DAY_MS;
use crate::platform::db::{Db, Statement};
use crate::platform::ports::Blobs;
use std::cell::Cell;

/// Operations one daily run may spend (see the module comment).
pub const DEFAULT_RUN_BUDGET: u32 = 400;
/// The least `RETENTION_RUN_BUDGET` accepted (fits the free plan's 50 subrequests).
pub const MIN_RUN_BUDGET: u32 = 40;
/// Rows one bounded `DELETE` removes (D1 and Postgres both handle this comfortably).
pub const DELETE_BATCH: i64 = 500;
/// Default grace period between closure and erasure (F3): 14 days.
pub const DEFAULT_GRACE_SECONDS: i64 = 14 * 24 * 3600;
/// How long an export stays downloadable (the export feature's default,
/// `EXPORT_TTL_SECONDS`); its row below is enforced by `privacy::export::remove`.
pub const EXPORT_KEEP_DAYS: i64 = crate::privacy::export::DEFAULT_TTL_MS / (24 * 3600 * 1000);

/// How long a row's data is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// This many days after the moment named in `RetentionRow::from`.
    Days(i64),
    /// The closure grace period, `ACCOUNT_DELETION_GRACE_SECONDS`.
    Grace,
    /// Set outside the code (the platform's own retention); the text says what it is.
    Platform(&'static str),
}

/// What enforces a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A bounded delete: the statement takes (cutoff ms, batch size) and removes at most
    /// that many rows older than the cutoff, oldest first.
    Sql(&'static str),
    /// C3: uploads nothing refers to, object first, then the row.
    UnusedUploads,
    /// F3: closed accounts past their grace period (`privacy::closure::purge_due`).
    ClosedAccounts,
    /// F1 exports past their expiry, archive and row (`privacy::export::remove`).
    Exports,
    /// KV entries carry a TTL; the platform deletes them.
    KvTtl,
    /// Nothing in this code: the platform's retention setting.
    PlatformSetting,
}

#[derive(Debug, Clone, Copy)]
pub struct RetentionRow {
    pub data: &'static str,
    pub period: Period,
    /// The moment the period counts from.
    pub from: &'static str,
    pub place: &'static str,
    pub why: &'static str,
    pub steps: &'static [Step],
}

/// THE retention table (F4). Periods follow the privacy policy §6: content is kept while
/// the account is open; technical logs, billing records and security events longer, for
/// audit, fraud prevention and legal obligations.
pub const TABLE: &[RetentionRow] = &[
    RetentionRow {
        data: "sessions (KV record)",
        period: Period::Platform("until idle or absolute expiry"),
        from: "the last use",
        place: "KV `SESSIONS` `session:{hash}`",
        why: "signing in; ended at once on sign-out, revocation or closure",
        steps: &[Step::KvTtl],
    },
    RetentionRow {
        data: "sessions (rows)",
        period: Period::Days(30),
        from: "their end or absolute expiry",
        place: "D1 `sessions`",
        why: "the sessions list and security review",
        steps: &[
            Step::Sql("DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE ended_at IS NOT NULL AND ended_at < ? ORDER BY ended_at LIMIT ?)"),
            Step::Sql("DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE ended_at IS NULL AND expires_at < ? ORDER BY expires_at LIMIT ?)"),
        ],
    },
    RetentionRow {
        data: "email tokens (verification, reset)",
        period: Period::Days(7),
        from: "their expiry",
        place: "D1 `email_tokens`, `email_token_uses`",
        why: "a link works once",
        steps: &[Step::Sql("DELETE FROM email_tokens WHERE token_hash IN (SELECT token_hash FROM email_tokens WHERE expires_at < ? ORDER BY expires_at LIMIT ?)")],
    },
    RetentionRow {
        data: "security events",
        period: Period::Days(365),
        from: "the event",
        place: "D1 `security_events`",
        why: "recent activity, fraud prevention and audit (policy §6)",
        steps: &[Step::Sql("DELETE FROM security_events WHERE id IN (SELECT id FROM security_events WHERE created_at < ? ORDER BY created_at LIMIT ?)")],
    },
    RetentionRow {
        data: "technical logs",
        period: Period::Platform("7 days (Workers Logs, paid plan; 3 days on the free plan); Sentry 90 days"),
        from: "the request",
        place: "Cloudflare Workers Logs (`[observability]` in `wrangler.toml`), Sentry",
        why: "operating and debugging the service; scrubbed of emails, passwords, tokens and prompts",
        steps: &[Step::PlatformSetting],
    },
    RetentionRow {
        data: "billing records (purchases, Stripe charges and disputes, credit ledger)",
        period: Period::Days(3650),
        from: "the record",
        place: "D1 `purchases`, `stripe_charges`, `stripe_disputes`, `ledger_entries`",
        why: "accounting and tax law (policy §6); de-identified when the account is erased",
        steps: &[
            Step::Sql("DELETE FROM stripe_charges WHERE payment_intent IN (SELECT payment_intent FROM stripe_charges WHERE updated_at < ? ORDER BY updated_at LIMIT ?)"),
            Step::Sql("DELETE FROM stripe_disputes WHERE id IN (SELECT id FROM stripe_disputes WHERE updated_at < ? ORDER BY updated_at LIMIT ?)"),
            Step::Sql("DELETE FROM purchases WHERE session_id IN (SELECT session_id FROM purchases WHERE created_at < ? ORDER BY created_at LIMIT ?)"),
            Step::Sql("DELETE FROM ledger_entries WHERE id IN (SELECT id FROM ledger_entries WHERE created_at < ? ORDER BY created_at LIMIT ?)"),
        ],
    },
    RetentionRow {
        data: "processed webhook events",
        period: Period::Days(90),
        from: "their processing",
        place: "D1 `stripe_events`",
        why: "recognising Stripe's retries and replays",
        steps: &[Step::Sql("DELETE FROM stripe_events WHERE id IN (SELECT id FROM stripe_events WHERE processed_at IS NOT NULL AND processed_at < ? ORDER BY processed_at LIMIT ?)")],
    },
    RetentionRow {
        data: "failed-job records",
        period: Period::Days(90),
        from: "the failure",
        place: "D1 `generation_jobs` (status failed)",
        why: "support and replay by an admin",
        steps: &[Step::Sql("DELETE FROM generation_jobs WHERE id IN (SELECT id FROM generation_jobs WHERE status = 'failed' AND finished_at < ? AND output_upload_id IS NULL ORDER BY finished_at LIMIT ?)")],
    },
    RetentionRow {
        data: "unused uploads",
        period: Period::Days(1),
        from: "the upload",
        place: "D1 `uploads` + R2 `u/{user}/{id}`",
        why: "files no brand or generation refers to (C3)",
        steps: &[Step::UnusedUploads],
    },
    RetentionRow {
        data: "exports",
        period: Period::Days(EXPORT_KEEP_DAYS),
        from: "the archive was ready",
        place: "D1 `exports` + R2 `u/{user}/exports/{id}.zip`",
        why: "downloading one's data (F1)",
        steps: &[Step::Exports],
    },
    RetentionRow {
        data: "closed accounts (profile, brands, uploads, generations and their outputs, sessions, security events)",
        period: Period::Grace,
        from: "the closure",
        place: "D1, R2 `u/{user}/`, KV `SESSIONS`",
        why: "the grace period in which the account can be reopened; then erased, and a receipt emailed",
        steps: &[Step::ClosedAccounts],
    },
    RetentionRow {
        data: "generated outputs of closed accounts",
        period: Period::Grace,
        from: "the closure",
        place: "D1 `generation_jobs` + R2 `u/{user}/`",
        why: "erased with the account",
        steps: &[Step::ClosedAccounts],
    },
    RetentionRow {
        data: "privacy requests (handled)",
        period: Period::Days(1095),
        from: "the last change of status",
        place: "D1 `privacy_requests`",
        why: "showing that requests were answered (policy §7); de-identified when the account is erased",
        steps: &[Step::Sql("DELETE FROM privacy_requests WHERE id IN (SELECT id FROM privacy_requests WHERE status IN ('completed', 'rejected') AND updated_at < ? ORDER BY updated_at LIMIT ?)")],
    },
    RetentionRow {
        data: "throttling counters",
        period: Period::Days(1),
        from: "their window",
        place: "D1 `throttle_counters` (hashes only)",
        why: "limiting sign-in and sign-up attempts",
        steps: &[Step::Sql("DELETE FROM throttle_counters WHERE (bucket, window_start) IN (SELECT bucket, window_start FROM throttle_counters WHERE window_start < ? ORDER BY window_start LIMIT ?)")],
    },
    RetentionRow {
        data: "cron run records",
        period: Period::Days(90),
        from: "the run",
        place: "D1 `cron_runs`",
        why: "operations",
        steps: &[Step::Sql("DELETE FROM cron_runs WHERE id IN (SELECT id FROM cron_runs WHERE started_at < ? ORDER BY started_at LIMIT ?)")],
    },
    RetentionRow {
        data: "diagnostic probe events",
        period: Period::Days(1),
        from: "the event",
        place: "D1 `probe_events` (development only)",
        why: "the binding tests",
        steps: &[Step::Sql("DELETE FROM probe_events WHERE (probe_id, queue, attempt) IN (SELECT probe_id, queue, attempt FROM probe_events WHERE created_at < ? ORDER BY created_at LIMIT ?)")],
    },
];

impl RetentionRow {
    /// The cut-off for a `Days` period: data from before this instant is purged.
    pub fn cutoff_ms(&self, now_ms: i64) -> Option<i64> {
        match self.period {
            Period::Days(days) => Some(now_ms - days * DAY_MS),
            _ => None,
        }
    }

    pub fn kept(&self) -> String {
        match self.period {
            Period::Days(1) => format!("1 day after {}", self.from),
            Period::Days(d) if d % 365 == 0 && d >= 365 => {
                let years = d / 365;
                format!("{years} year{} after {}", if years == 1 { "" } else { "s" }, self.from)
            }
            Period::Days(d) => format!("{d} days after {}", self.from),
            Period::Grace => format!("{} days after {} (`ACCOUNT_DELETION_GRACE_SECONDS`)", DEFAULT_GRACE_SECONDS / 86_400, self.from),
            Period::Platform(text) => text.to_string(),
        }
    }

    pub fn enforced_by(&self) -> &'static str {
        match self.steps[0] {
            Step::Sql(_) => "daily cron: bounded deletes",
            Step::UnusedUploads => "daily cron: object, then row",
            Step::ClosedAccounts => "daily cron: receipt, R2, KV, rows",
            Step::Exports => "daily cron: the export feature's purge",
            Step::KvTtl => "KV expiry (TTL)",
            Step::PlatformSetting => "platform setting",
        }
    }
}

/// The table as Markdown (the README holds exactly this between its markers).
pub fn render_markdown() -> String {
    let mut out = String::from("| data | kept | where | why | enforced by |\n|---|---|---|---|---|\n");
    for row in TABLE {
        out.push_str(&format!("| {} | {} | {} | {} | {} |\n", row.data, row.kept(), row.place, row.why, row.enforced_by()));
    }
    out
}

fn html_text(s: &str) -> String {
    let escaped = s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    // `code` spans in the Markdown become <code> in the page.
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str(&format!("<code>{part}</code>"));
        } else {
            out.push_str(part);
        }
    }
    out
}

/// The table as HTML (`public/data-retention.html` holds exactly this between its markers).
pub fn render_html() -> String {
    let mut out = String::from(
        "<table class=\"retention\">\n<thead><tr><th scope=\"col\">Data</th><th scope=\"col\">Kept</th><th scope=\"col\">Where</th><th scope=\"col\">Why</th><th scope=\"col\">Enforced by</th></tr></thead>\n<tbody>\n",
    );
    for row in TABLE {
        out.push_str(&format!(
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            html_text(row.data),
            html_text(&row.kept()),
            html_text(row.place),
            html_text(row.why),
            html_text(row.enforced_by())
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

// ---- the budget ----------------------------------------------------------------------------

/// Operations a run may still spend; every step asks before each database call, R2 or
/// KV delete, or email.
#[derive(Debug)]
pub struct Budget {
    left: Cell<u32>,
    spent: Cell<u32>,
}

impl Budget {
    pub fn new(operations: u32) -> Budget {
        Budget { left: Cell::new(operations), spent: Cell::new(0) }
    }

    /// Takes `n` operations if that many are left.
    pub fn take(&self, n: u32) -> bool {
        if self.left.get() < n {
            return false;
        }
        self.left.set(self.left.get() - n);
        self.spent.set(self.spent.get() + n);
        true
    }

    pub fn left(&self) -> u32 {
        self.left.get()
    }

    pub fn spent(&self) -> u32 {
        self.spent.get()
    }

    /// A budget of at most `n` carved from this one; what it does not spend comes back
    /// with `give_back`.
    pub fn share(&self, n: u32) -> Budget {
        let n = n.min(self.left());
        self.left.set(self.left.get() - n);
        Budget { left: Cell::new(n), spent: Cell::new(0) }
    }

    pub fn give_back(&self, share: Budget) {
        self.left.set(self.left.get() + share.left());
        self.spent.set(self.spent.get() + share.spent());
    }
}

// ---- the daily run -------------------------------------------------------------------------

/// What the daily run may touch.
pub struct Ports<'a, D, B, S, M> {
    pub db: &'a D,
    pub blobs: &'a B,
    pub sessions: &'a S,
    pub mailer: &'a M,
    /// Sender of the deletion receipts.
    pub from: &'a str,
}

/// What one run did: per step, items removed; whether anything expired was left for
/// the next run; and failures (each logged, none stopping the other steps).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub removed: Vec<(&'static str, u64)>,
    pub unfinished: bool,
    pub failures: u64,
    pub spent: u32,
    pub notes: Vec<String>,
}

impl Report {
    pub fn removed(&self, data: &str) -> u64 {
        self.removed.iter().filter(|(d, _)| *d == data).map(|(_, n)| n).sum()
    }

    pub fn detail(&self) -> String {
        let mut parts: Vec<String> = self.removed.iter().map(|(d, n)| format!("{d}: {n}")).collect();
        parts.extend(self.notes.iter().cloned());
        parts.push(format!("operations: {}", self.spent));
        if self.unfinished {
            parts.push("more expired data is left for the next run".into());
        }
        if self.failures > 0 {
            parts.push(format!("failures: {}", self.failures));
        }
        parts.join("; ")
    }
}

fn log_failure(what: &str, error: &dyn std::fmt::Display) {
    crate::platform::log::emit(crate::platform::log::Level::Error, "retention step failed", serde_json::json!({ "step": what, "error": error.to_string() }));
}

/// Runs bounded deletes with `sql` until nothing older than `cutoff` is left or the
/// budget is spent. Returns (rows removed, finished).
async fn run_sql(db: &impl Db, sql: &'static str, cutoff: i64, budget: &Budget) -> Result<(u64, bool), crate::platform::db::DbError> {
    let mut removed = 0;
    loop {
        if !budget.take(1) {
            return Ok((removed, false));
        }
        let changes = db.run(Statement::new(sql).bind(cutoff).bind(DELETE_BATCH)).await?.changes;
        removed += changes;
        if (changes as i64) < DELETE_BATCH {
            return Ok((removed, true));
        }
    }
}

/// F1 exports past their expiry: a listing, then each export's own operations (abort
/// an unfinished upload, delete the archive, delete the row), counted as made.
async fn expired_exports(db: &impl Db, blobs: &impl Blobs, now_ms: i64, budget: &Budget) -> Result<(u64, bool, u64), crate::platform::db::DbError> {
    use crate::privacy::export;
    let mut removed = 0;
    loop {
        let room = (budget.left().saturating_sub(1) / export::REMOVE_OPERATIONS) as i64;
        if room == 0 {
            return Ok((removed, false, 0));
        }
        budget.take(1);
        let limit = room.min(100);
        let rows = export::expired(db, now_ms, limit).await?;
        for row in &rows {
            let (gone, operations) = export::remove(db, blobs, row).await?;
            budget.take(operations);
            if !gone {
                // Its row stays; the next run tries again.
                return Ok((removed, true, 1));
            }
            removed += 1;
        }
        if (rows.len() as i64) < limit {
            return Ok((removed, true, 0));
        }
    }
}

/// C3 within a budget: each upload costs a listing share plus three operations.
async fn unused_uploads(db: &impl Db, blobs: &impl Blobs, now_ms: i64, budget: &Budget) -> Result<(u64, bool, u64), crate::platform::db::DbError> {
    let mut removed = 0;
    let mut failed = 0;
    loop {
        // One listing, then three operations per upload (mark, object, row).
        let room = (budget.left().saturating_sub(1) / 3) as i64;
        if room == 0 {
            return Ok((removed, false, failed));
        }
        budget.take(1);
        let limit = room.min(100);
        let doomed = crate::library::uploads::unreferenced_before(db, now_ms - crate::library::uploads::UNREFERENCED_TTL_MS, limit).await?;
        budget.take(3 * doomed.len() as u32);
        let r = crate::library::uploads::remove_each(db, blobs, &doomed, now_ms).await;
        removed += r.removed;
        failed += r.failed;
        if (doomed.len() as i64) < limit || r.failed > 0 {
            return Ok((removed, (doomed.len() as i64) < limit, failed));
        }
    }
}

/// Enforces every row of `TABLE`, within `budget` operations. Each distinct step gets a
/// fair share first (so one huge backlog cannot starve the others), then whatever is left
/// goes to the unfinished steps in order.
pub async fn enforce<D: Db, B: Blobs, S: SessionStore, M: Mailer>(ports: &Ports<'_, D, B, S, M>, now_ms: i64, budget: u32) -> Report {
    let budget = Budget::new(budget);
    let mut report = Report::default();
    // (row index, step) for every step that runs code here.
    let mut work: Vec<(usize, Step)> = Vec::new();
    for (i, row) in TABLE.iter().enumerate() {
        for step in row.steps {
            let sql_row_listed = matches!(step, Step::Sql(_)) && work.iter().any(|(j, _)| *j == i);
            if matches!(step, Step::KvTtl | Step::PlatformSetting) || sql_row_listed || work.iter().any(|(_, s)| s == step) {
                continue;
            }
            work.push((i, *step));
        }
    }
    let mut finished = vec![false; work.len()];
    let fair = budget.left() / work.len() as u32;
    for pass in 0..2 {
        for (n, (i, step)) in work.iter().enumerate() {
            if finished[n] {
                continue;
            }
            let row = &TABLE[*i];
            let share = if pass == 0 { fair.max(least_for(row, *step)) } else { budget.left() };
            let part = budget.share(share);
            let outcome = run_step(ports, row, *step, now_ms, &part).await;
            budget.give_back(part);
            match outcome {
                Ok((removed, done, failures)) => {
                    let label = if matches!(step, Step::ClosedAccounts) { "closed accounts erased" } else { row.data };
                    report.removed.push((label, removed));
                    report.failures += failures;
                    finished[n] = done || failures > 0;
                }
                Err(e) => {
                    log_failure(row.data, &e);
                    report.failures += 1;
                    finished[n] = true;
                }
            }
        }
    }
    // Merge the two passes' counts per label.
    let mut merged: Vec<(&'static str, u64)> = Vec::new();
    for (label, n) in report.removed.drain(..) {
        match merged.iter_mut().find(|(l, _)| *l == label) {
            Some(entry) => entry.1 += n,
            None => merged.push((label, n)),
        }
    }
    report.removed = merged;
    report.unfinished = finished.iter().any(|f| !f);
    report.spent = budget.spent();
    report
}

/// The fewest operations with which a step makes progress: one per statement of a SQL
/// row; a listing and one upload's three for unused uploads; a listing, the receipt's
/// three and a file's two for a closed account.
fn least_for(row: &RetentionRow, step: Step) -> u32 {
    match step {
        Step::Sql(_) => row.steps.iter().filter(|s| matches!(s, Step::Sql(_))).count() as u32,
        Step::UnusedUploads | Step::Exports => 4,
        Step::ClosedAccounts => 8,
        _ => 1,
    }
}

/// The smallest budget with which every step can make progress in every run (the
/// configuration refuses less than `MIN_RUN_BUDGET`, which a test keeps above it).
pub fn least_budget() -> u32 {
    let mut total = 0;
    let mut closed_counted = false;
    for row in TABLE {
        match row.steps[0] {
            Step::ClosedAccounts if closed_counted => {}
            Step::ClosedAccounts => {
                closed_counted = true;
                total += least_for(row, Step::ClosedAccounts);
            }
            step => total += least_for(row, step),
        }
    }
    total
}

/// One step within its share: (items removed, finished, failures).
async fn run_step<D: Db, B: Blobs, S: SessionStore, M: Mailer>(
    ports: &Ports<'_, D, B, S, M>,
    row: &RetentionRow,
    step: Step,
    now_ms: i64,
    budget: &Budget,
) -> Result<(u64, bool, u64), crate::platform::db::DbError> {
    match step {
        Step::Sql(_) => {
            // A row's SQL steps run together, in order (e.g. charges before purchases).
            let cutoff = row.cutoff_ms(now_ms).expect("a SQL step has a period in days");
            let mut removed = 0;
            for s in row.steps {
                let Step::Sql(sql) = s else { continue };
                let (n, done) = run_sql(ports.db, sql, cutoff, budget).await?;
                removed += n;
                if !done {
                    return Ok((removed, false, 0));
                }
            }
            Ok((removed, true, 0))
        }
        Step::UnusedUploads => unused_uploads(ports.db, ports.blobs, now_ms, budget).await,
        Step::ClosedAccounts => {
            let r = super::closure::purge_due(ports, now_ms, budget).await?;
            Ok((r.erased, r.finished, r.failures))
        }
        Step::Exports => expired_exports(ports.db, ports.blobs, now_ms, budget).await,
        Step::KvTtl | Step::PlatformSetting => Ok((0, true, 0)),
    }
}
