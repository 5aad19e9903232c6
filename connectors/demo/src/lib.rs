//! tally's built-in demo data set: Northwind, a synthetic organisation of about 3,000
//! employees and a few hundred contractors, with 18 months of integrated work items across
//! Jira, Azure DevOps, ServiceNow, GitHub and GitLab. `tally --demo` and the terminal UI
//! (when no configuration is found) report on it.
//!
//! The data set is deterministic: a fixed seed, no clock, no hash-map order. [`records`]
//! takes the end of the span; a later end slides every timestamp, it does not change who
//! did what (shifting by whole weeks shifts every record by exactly that much; otherwise
//! times move by up to a couple of days as they are kept in working hours).
//!
//! # What is in it
//!
//! - **People.** 3,000 employees at `northwind.example` and 320 contractors at five partner
//!   domains. Each has a role (engineers in six teams, product, QA, support, operations,
//!   business) that decides which projects they work in or raise tickets in, hence which
//!   systems know them: Jira most people, Azure DevOps a large share, ServiceNow support and
//!   operations plus the people who raise incidents, GitHub and GitLab the developers. Most
//!   were there all along; some leave, some join, contractors come and go, so the 6-month
//!   and 1-year windows differ.
//! - **Identities, as each system's API shows them.** Jira Cloud: display name, no username,
//!   the email hidden for about 40% (profile visibility), deleted accounts as "Former
//!   user". Azure DevOps: the UPN as email (some with capitals) and display name. ServiceNow:
//!   `user_name` (the email's local part or the directory account such as `alee`), email,
//!   name. GitHub: a personal login (`annlee-dev`, `ALee42`), the email only when public,
//!   the name often. GitLab: the directory account or email local part, email for about two
//!   thirds, name.
//! - **Service accounts**, flagged where the system says so: Jira apps (Automation for Jira,
//!   Exalate, Jira Service Management Widget), Azure DevOps' Project Collection Build
//!   Service, ServiceNow integration users (`svc.integration`, `svc.event.mgmt`), GitHub
//!   bots (`dependabot[bot]`, `github-actions[bot]`, `northwind-exalate[bot]`), GitLab
//!   project bots (`project_118_bot`, …). The Azure DevOps sync user
//!   `svc-exalate-ado@northwind.example` is deliberately *not* flagged — Azure DevOps has
//!   no such flag for a licensed user — and is what a service-account pattern is for.
//! - **Identity edge cases.** Ann Lee has a different handle in each system (`alee`,
//!   `annlee-dev`, `ann.lee`) that rule 1 chains together; Priya Patel has one email with
//!   three usernames (Duplicates); Jane and John Smith both use `jsmith` and merge (an
//!   over-merge to spot); ServiceNow's `admin` and Jira's `admin@northwind.example` merge
//!   unless `admin` is a generic handle; two Chris Johnsons, two Wei Zhangs and two María
//!   Garcías (one a contractor) hide their email in Jira, so their Jira activity is one
//!   ambiguous display-name user; seven ServiceNow users show malformed emails; a few
//!   observations carry stray white space or capitals; about 1 in 400 carries no identifier
//!   at all.
//! - **Integrations and syncs.** Nine project pairs (Jira↔Azure DevOps, Jira↔ServiceNow,
//!   GitHub↔Jira, GitLab↔Azure DevOps, Jira↔GitHub); seven active, one switched off nine
//!   months ago (in the 1-year report only) and one last month. Every item pair is synced
//!   several times, about 4% of syncs fail (most are retried).
//!
//! - **Directories.** Each system's user directory as `account` records, read every 7 days
//!   over the last four weeks (see `directory.rs`): seats nobody uses (about 15 %),
//!   leavers not deprovisioned, free Stakeholder and requester access, app accounts and
//!   bots, contractors on partner domains, two-step verification missing for some, people
//!   who hold an account without acting and GitHub outside collaborators who act without
//!   one. They come after every other record and change none of them.
//!
//! About 239,000 records (157,000 observations, 51,000 syncs of 14,900 item pairs, nine
//! integrations, 31,000 account records); generating them takes well under a second in a
//! release build.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use tally_model::{Connector, ConnectorContext, ConnectorError, Record};

mod clock;
mod directory;
mod generate;
mod names;
mod org;
mod rng;

use generate::{Generator, Tagged};

/// The connector kind in the configuration: `[[connector]] kind = "demo"`.
pub const KIND: &str = "demo";

/// The demo organisation's own email domain: what `[identity] managed_domains` would say.
pub const MANAGED_DOMAINS: &[&str] = &["northwind.example"];

/// This kind in tally's connector registry.
pub struct Factory;

impl tally_model::ConnectorFactory for Factory {
    type Settings = Settings;
    const KIND: &'static str = KIND;
    const DESCRIPTION: &'static str = "the built-in synthetic demo organisation";

    fn build(
        settings: Settings,
        ctx: &tally_model::BuildContext<'_>,
    ) -> Result<std::sync::Arc<dyn tally_model::Connector>, tally_model::ConnectorError> {
        Ok(std::sync::Arc::new(DemoConnector::new(
            ctx.name,
            settings.end.unwrap_or(ctx.as_of),
        )))
    }
}

/// The end systems the data set covers, as they appear in the records and the reports.
pub const SYSTEMS: [&str; 5] = ["Jira", "Azure DevOps", "ServiceNow", "GitHub", "GitLab"];

/// Records sent per `send_batch`.
const BATCH: usize = 1_000;

/// Every record of the data set, spread over the 18 months before `end` (none after it),
/// integrations first, then work items in the order they were created.
///
/// Streams: the organisation and the list of items are built up front (a few
/// milliseconds), each item's records only when the iterator reaches it.
pub fn records(end: DateTime<Utc>) -> Records {
    Records(TaggedRecords::new(end))
}

/// The iterator returned by [`records`].
pub struct Records(TaggedRecords);

impl Iterator for Records {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        self.0.next().map(|(_, record)| record)
    }
}

/// Records with, for observations of a person, the person's index: lets the tests count
/// people without going through identity resolution.
pub(crate) struct TaggedRecords {
    gen: Generator,
    next_plan: usize,
    /// The current item's records, reversed so that `pop` yields them in order.
    pending: Vec<Tagged>,
    /// What the observations showed so far, for the directories that follow them.
    seen: directory::Seen,
    accounts_sent: bool,
}

impl TaggedRecords {
    pub(crate) fn new(end: DateTime<Utc>) -> Self {
        let gen = Generator::new(end);
        let mut pending: Vec<Tagged> = gen.integrations().into_iter().map(|r| (None, r)).collect();
        pending.reverse();
        let seen = directory::Seen::new(&gen);
        TaggedRecords {
            gen,
            next_plan: 0,
            pending,
            seen,
            accounts_sent: false,
        }
    }
}

impl Iterator for TaggedRecords {
    type Item = Tagged;

    fn next(&mut self) -> Option<Tagged> {
        loop {
            if let Some(tagged) = self.pending.pop() {
                if let (Some(p), Record::User(u)) = &tagged {
                    self.seen.observe(*p, &u.system, u.at);
                }
                return Some(tagged);
            }
            if self.next_plan >= self.gen.plan_count() {
                // The directories come last: they follow what the observations showed.
                if self.accounts_sent {
                    return None;
                }
                self.accounts_sent = true;
                self.pending = directory::accounts(&self.gen, &self.seen);
                self.pending.reverse();
                continue;
            }
            self.gen.plan_records(self.next_plan, &mut self.pending);
            self.next_plan += 1;
            self.pending.reverse();
        }
    }
}

/// `[[connector]] kind = "demo"` settings.
///
/// ```toml
/// [[connector]]
/// name = "demo"
/// kind = "demo"
/// end = "2026-01-31T00:00:00Z"   # optional; default: the report's as_of
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The end of the data set's 18 months. Absent: the report's `as_of`, so the demo
    /// always looks current. An RFC 3339 string or a TOML offset date-time.
    #[serde(default, deserialize_with = "deserialize_end")]
    pub end: Option<DateTime<Utc>>,
}

impl Settings {
    /// The end to generate for: the configured one, else `as_of`.
    pub fn end_or(&self, as_of: DateTime<Utc>) -> DateTime<Utc> {
        self.end.unwrap_or(as_of)
    }
}

/// Accepts `"2026-01-31T00:00:00Z"` and also the unquoted TOML form
/// `2026-01-31T00:00:00Z`, which the toml crate hands over as a one-entry map holding the
/// text: administrators write either.
fn deserialize_end<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    struct EndVisitor;

    impl<'de> serde::de::Visitor<'de> for EndVisitor {
        type Value = Option<DateTime<Utc>>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an RFC 3339 date-time with an offset, e.g. 2026-01-31T00:00:00Z")
        }

        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            DateTime::parse_from_rfc3339(v.trim())
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| {
                    E::custom(format!(
                        "`{v}` is not an RFC 3339 date-time with an offset \
                         (e.g. 2026-01-31T00:00:00Z): {e}"
                    ))
                })
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            match map.next_entry::<String, String>()? {
                Some((_, text)) => self.visit_str(&text),
                None => Err(serde::de::Error::custom(
                    "expected a date-time, found an empty table",
                )),
            }
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
    }

    d.deserialize_any(EndVisitor)
}

/// The demo data set as a connector. It has nothing to resume: it ignores the cursor and
/// always sends the whole data set, which the store deduplicates on natural keys.
#[derive(Debug, Clone)]
pub struct DemoConnector {
    name: String,
    end: DateTime<Utc>,
}

impl DemoConnector {
    pub fn new(name: &str, end: DateTime<Utc>) -> Self {
        DemoConnector {
            name: name.to_string(),
            end,
        }
    }

    /// The end of the data set this connector sends.
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }
}

#[async_trait]
impl Connector for DemoConnector {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &str {
        KIND
    }

    async fn run(&self, ctx: ConnectorContext) -> Result<(), ConnectorError> {
        // Progress needs the total; counting costs one extra generation pass, far less
        // than storing the records does.
        let total = records(self.end).count() as u64;
        ctx.progress(0, Some(total)).await?;
        let mut done = 0u64;
        let mut batch = Vec::with_capacity(BATCH);
        let mut batches_since_progress = 0;
        for record in records(self.end) {
            batch.push(record);
            if batch.len() == BATCH {
                if ctx.is_cancelled() {
                    return Err(ConnectorError::Cancelled);
                }
                done += batch.len() as u64;
                ctx.send_batch(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                    .await?;
                batches_since_progress += 1;
                if batches_since_progress == 10 {
                    batches_since_progress = 0;
                    ctx.progress(done, Some(total)).await?;
                }
            }
        }
        if ctx.is_cancelled() {
            return Err(ConnectorError::Cancelled);
        }
        done += batch.len() as u64;
        ctx.send_batch(batch).await?;
        ctx.progress(done, Some(total)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
