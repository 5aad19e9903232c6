//! One collection run: list changed tickets page by page, read each one with its
//! transactions and attachments, turn them into records, send them, move the cursor; then
//! read the user directory into `account` records.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration as Days, Utc};
use serde::de::DeserializeOwned;
use tally_http::cursor::LastSecond;
use tally_http::links::{link_target, split_keys};
use tally_http::people::non_empty;
use tally_http::{CancellationToken, HttpClient, HttpError, Method, Observations, Person};
use tally_model::{
    Account, AccountStatus, ConnectorContext, ConnectorError, EntityRef, Interaction, Record,
    SyncRecord, SyncStatus,
};
use tokio::task::JoinSet;

use crate::api::{
    flag, Attachment, Collection, Queue, Ref, Ticket, TicketSummary, Transaction, User, UserSummary,
};
use crate::Settings;

/// RT's own users: the system itself and the placeholder owner of unowned tickets. Neither
/// is a person, so neither is observed nor listed as an account.
pub(crate) const NOT_PEOPLE: [&str; 2] = ["RT_System", "Nobody"];

/// How much earlier than the cursor the ticket query reaches, in seconds. The query is
/// relative to RT's clock (see [`Collector::list`]); this covers the rounding of the
/// server's `Date` header and the time a request takes. Tickets seen before are skipped.
const QUERY_SLACK_SECS: i64 = 120;

/// Passes over the listing at most, when tickets move while it is paged (see `run`).
const MAX_PASSES: usize = 3;

/// Where the previous run stopped: the last `LastUpdated` it processed and the tickets it
/// processed at exactly that second, so the next run, asking from that second again, skips
/// them rather than losing tickets updated later within the same second.
pub(crate) type Cursor = LastSecond<String>;

/// The key the cursor's second is saved under.
const CURSOR_KEY: &str = "last_updated";

/// Who an RT user is, as far as this account may see: the person (with RT's numeric user
/// id, when the profile was readable) and what the directory needs.
#[derive(Debug, Clone, Default)]
struct Profile {
    person: Person,
    /// The login (`Name`); the person's username.
    login: String,
    privileged: bool,
    /// `None` when RT did not say (the account lacks AdminUsers).
    disabled: Option<bool>,
}

impl Profile {
    fn of_login(login: &str) -> Profile {
        Profile {
            person: Person {
                username: Some(login.to_string()),
                ..Person::default()
            },
            login: login.to_string(),
            ..Profile::default()
        }
    }

    fn from_user(login: &str, u: &User) -> Profile {
        let login = non_empty(u.name.as_deref()).unwrap_or_else(|| login.to_string());
        Profile {
            person: Person {
                id: u.id.clone(),
                username: Some(login.clone()),
                email: non_empty(u.email.as_deref()),
                display_name: non_empty(u.real_name.as_deref()),
                service_account: false,
            },
            login,
            privileged: flag(&u.privileged),
            disabled: u.disabled.as_ref().map(flag),
        }
    }
}

fn is_person(login: &str) -> bool {
    !login.trim().is_empty() && !NOT_PEOPLE.iter().any(|n| n.eq_ignore_ascii_case(login))
}

/// `s` as one path segment: logins may hold `@`, spaces or slashes (RT creates users named
/// by their e-mail address for outside requestors).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A TicketSQL string literal.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Every item of a REST 2 listing, page after page (RT caps pages at 100 items).
async fn fetch_all<T: DeserializeOwned>(
    client: &HttpClient,
    cancel: &CancellationToken,
    path: &str,
    query: &[(&str, &str)],
) -> Result<Vec<T>, HttpError> {
    let mut out = Vec::new();
    let mut page = 1u64;
    loop {
        let page_text = page.to_string();
        let mut q = query.to_vec();
        q.extend([("per_page", "100"), ("page", page_text.as_str())]);
        let c: Collection<T> = client.get_json(cancel, path, &q).await?;
        let n = c.items.len() as u64;
        out.extend(c.items.into_iter().flatten());
        let seen = (page - 1) * 100 + n;
        if n < 100 || c.total.is_some_and(|t| seen >= t) {
            return Ok(out);
        }
        page += 1;
    }
}

/// What a transaction type says about its creator. `None`: not an interaction of a person
/// (RT's records of the mail it sent).
fn interaction_of(kind: &str) -> Option<Interaction> {
    match kind {
        "Create" => Some(Interaction::Updater),
        "Comment" | "Correspond" => Some(Interaction::CommentAuthor),
        "EmailRecord" | "CommentEmailRecord" => None,
        // Set, Status, Give, Take, Steal, AddWatcher, CustomField, AddLink, …: changes.
        _ => Some(Interaction::Updater),
    }
}

/// A ticket read in full.
struct Full {
    ticket: Ticket,
    history: Vec<Transaction>,
    attachments: Vec<Attachment>,
}

/// The state of one run.
pub(crate) struct Collector<'a> {
    client: HttpClient,
    system: String,
    settings: &'a Settings,
    /// Login (lower case) -> person; `None` for RT's own users.
    people: HashMap<String, Option<Profile>>,
    /// Queue id -> name.
    queues: HashMap<String, String>,
    /// RT's clock minus ours, from the `Date` header of the first answer.
    clock_offset: Days,
}

impl<'a> Collector<'a> {
    pub fn new(client: HttpClient, system: String, settings: &'a Settings) -> Self {
        Collector {
            client,
            system,
            settings,
            people: HashMap::new(),
            queues: HashMap::new(),
            clock_offset: Days::zero(),
        }
    }

    pub async fn run(mut self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        let cancel = ctx.shutdown().clone();
        let saved = tally_http::cursor::saved(ctx, self.settings.lookback_days, |text| {
            Cursor::parse(text, CURSOR_KEY)
        })
        .await?;
        self.check_server(&cancel).await?;
        let queue_clause = self.queue_clause(&cancel).await?;
        // Transactions and attachments older than the cursor were sent by an earlier run.
        let incremental_since = saved.as_ref().map(|c| c.at);
        let mut cursor = saved.unwrap_or_else(|| {
            Cursor::from(Utc::now() - Days::days(i64::from(self.settings.lookback_days)))
        });
        let since = cursor.at;
        let page_size = u64::from(self.settings.page_size);
        // (ticket, LastUpdated) already sent: by the previous run at the cursor's second,
        // and by this run.
        let mut processed: HashSet<(String, DateTime<Utc>)> = cursor
            .ids
            .iter()
            .map(|id| (id.clone(), cursor.at))
            .collect();
        let mut this_run: HashSet<String> = HashSet::new();
        let mut done = 0u64;

        // Page numbers over a listing sorted by LastUpdated: a ticket updated while the run
        // pages moves to the end, and the ticket after the current page slides back onto
        // it, unread. Such a move shows as a ticket of this run coming again (or the total
        // changing); then the listing is read once more and what was missed is taken.
        for _pass in 0..MAX_PASSES {
            let mut page = 1u64;
            let mut first_total: Option<Option<u64>> = None;
            let mut moved = false;
            loop {
                let list = self.list(&cancel, since, &queue_clause, page).await?;
                match first_total {
                    None => first_total = Some(list.total),
                    Some(t) if t != list.total => moved = true,
                    Some(_) => {}
                }
                // Tickets this account may not see come as null, but take their place on
                // the page.
                let on_page = list.items.len() as u64;
                let items: Vec<TicketSummary> = list.items.into_iter().flatten().collect();
                let mut fresh = Vec::new();
                for t in &items {
                    if t.last_updated < since {
                        continue;
                    }
                    if processed.insert((t.id.clone(), t.last_updated)) {
                        if this_run.contains(&t.id) {
                            moved = true;
                        }
                        fresh.push(t.clone());
                    }
                }
                if !fresh.is_empty() {
                    let records = self.records_for(&cancel, &fresh, incremental_since).await?;
                    ctx.send_batch(records).await?;
                    for t in &fresh {
                        this_run.insert(t.id.clone());
                        cursor.advance(t.last_updated, &t.id);
                    }
                    // Only after this page's records are on their way to the store.
                    ctx.checkpoint(cursor.encode(CURSOR_KEY)).await?;
                    done += fresh.len() as u64;
                    ctx.progress(done, list.total.map(|t| t.max(done))).await?;
                }
                let read = (page - 1) * page_size + on_page;
                if on_page < page_size || list.total.is_some_and(|t| read >= t) {
                    break;
                }
                page += 1;
            }
            if !moved {
                break;
            }
        }

        if self.settings.directory {
            // The observations are sent and the cursor saved: a directory that cannot be
            // read costs the accounts of this run, not the run.
            match self.directory(ctx, &cancel).await {
                Ok(()) => {}
                Err(e @ (ConnectorError::Cancelled | ConnectorError::StoreClosed)) => {
                    return Err(e)
                }
                Err(e) => {
                    ctx.warn(format!(
                        "RT's user directory could not be read, so no accounts are reported \
                         this run: {e}"
                    ))
                    .await?
                }
            }
        }
        Ok(())
    }

    /// Checks the credentials before anything else (`/rt` answers only an authenticated
    /// account) and reads RT's clock from the answer's `Date` header.
    async fn check_server(&mut self, cancel: &CancellationToken) -> Result<(), ConnectorError> {
        let url = self.client.url("rt", &[])?;
        let (headers, _) = self
            .client
            .execute_full(cancel, Method::GET, &url, None)
            .await
            .map_err(|e| match e.status() {
                Some(404) => ConnectorError::Source(format!(
                    "{e}; check that url is the RT root (the connector adds /REST/2.0) and \
                     that RT is version 5 or later (REST 2 is built in from 5.0)"
                )),
                _ => e.into(),
            })?;
        let server_now = headers
            .get("date")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| DateTime::parse_from_rfc2822(v).ok())
            .map(|t| t.with_timezone(&Utc));
        if let Some(t) = server_now {
            self.clock_offset = t - Utc::now();
        }
        Ok(())
    }

    /// `(Queue = 'A' OR Queue = 'B')` for the configured queues, each checked to exist.
    async fn queue_clause(&mut self, cancel: &CancellationToken) -> Result<String, ConnectorError> {
        let mut names = Vec::new();
        for name in &self.settings.queues {
            let name = name.trim();
            let q: Queue = self
                .client
                .get_json(cancel, &format!("queue/{}", segment(name)), &[])
                .await
                .map_err(|e| match e.status() {
                    Some(404 | 403) => ConnectorError::Config(format!(
                        "connector '{}': queue '{name}' was not found or is not visible to \
                         this account (it needs the SeeQueue right); `queues` takes queue \
                         names as shown in RT ({e})",
                        self.client.connector()
                    )),
                    _ => e.into(),
                })?;
            names.push(format!("Queue = {}", quoted(&q.name)));
        }
        Ok(if names.is_empty() {
            String::new()
        } else {
            format!(" AND ({})", names.join(" OR "))
        })
    }

    /// One page of tickets updated at or after `since`, oldest first. The bound is written
    /// relative to now (`'-N seconds'`): RT reads an absolute date in TicketSQL in the
    /// account's time zone, which the API does not tell, while a relative one comes out the
    /// same in every time zone.
    async fn list(
        &self,
        cancel: &CancellationToken,
        since: DateTime<Utc>,
        queue_clause: &str,
        page: u64,
    ) -> Result<Collection<TicketSummary>, HttpError> {
        let server_now = Utc::now() + self.clock_offset;
        let back = (server_now - since).num_seconds().max(0) + QUERY_SLACK_SECS;
        let query = format!("LastUpdated >= '-{back} seconds'{queue_clause}");
        let per_page = self.settings.page_size.to_string();
        let page = page.to_string();
        self.client
            .get_json(
                cancel,
                "tickets",
                &[
                    ("query", query.as_str()),
                    ("fields", "LastUpdated"),
                    ("orderby", "LastUpdated"),
                    ("order", "ASC"),
                    ("orderby", "id"),
                    ("order", "ASC"),
                    ("per_page", per_page.as_str()),
                    ("page", page.as_str()),
                ],
            )
            .await
    }

    /// Reads the tickets in full (concurrently, within the connector's limit) and turns them
    /// into records. A ticket deleted or hidden since it was listed is skipped.
    async fn records_for(
        &mut self,
        cancel: &CancellationToken,
        summaries: &[TicketSummary],
        incremental_since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Record>, ConnectorError> {
        let mut tasks = JoinSet::new();
        for (index, summary) in summaries.iter().enumerate() {
            let client = self.client.clone();
            let cancel = cancel.clone();
            let id = segment(&summary.id);
            tasks.spawn(async move {
                let got = async {
                    let ticket: Ticket = client
                        .get_json(&cancel, &format!("ticket/{id}"), &[])
                        .await?;
                    let history: Vec<Transaction> = fetch_all(
                        &client,
                        &cancel,
                        &format!("ticket/{id}/history"),
                        &[("fields", "Type,Creator,Created")],
                    )
                    .await?;
                    let attachments: Vec<Attachment> = fetch_all(
                        &client,
                        &cancel,
                        &format!("ticket/{id}/attachments"),
                        &[("fields", "Filename,Creator,Created")],
                    )
                    .await?;
                    Ok::<_, HttpError>(Full {
                        ticket,
                        history,
                        attachments,
                    })
                }
                .await;
                (index, got)
            });
        }
        let mut full: Vec<Option<Full>> = (0..summaries.len()).map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            let (index, got) = joined.map_err(|e| {
                ConnectorError::Source(format!("a ticket fetch stopped unexpectedly: {e}"))
            })?;
            match got {
                Ok(f) => full[index] = Some(f),
                Err(e) if matches!(e.status(), Some(403 | 404)) => {
                    tracing::debug!("skipping a ticket that is gone or hidden: {e}");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut records = Vec::new();
        for f in full.into_iter().flatten() {
            self.ticket_records(cancel, &f, incremental_since, &mut records)
                .await?;
        }
        Ok(records)
    }

    async fn queue_name(
        &mut self,
        cancel: &CancellationToken,
        queue: &Ref,
    ) -> Result<String, HttpError> {
        if let Some(known) = self.queues.get(&queue.id) {
            return Ok(known.clone());
        }
        let name = match self
            .client
            .get_json::<Queue>(cancel, &format!("queue/{}", segment(&queue.id)), &[])
            .await
        {
            Ok(q) => q.name,
            Err(e) if matches!(e.status(), Some(403 | 404)) => queue.id.clone(),
            Err(e) => return Err(e),
        };
        self.queues.insert(queue.id.clone(), name.clone());
        Ok(name)
    }

    /// The person behind a login, read once per run. RT's own users are nobody; a profile
    /// this account may not read leaves the login alone.
    async fn person(
        &mut self,
        cancel: &CancellationToken,
        login: &str,
    ) -> Result<Option<Profile>, HttpError> {
        let key = login.to_lowercase();
        if let Some(known) = self.people.get(&key) {
            return Ok(known.clone());
        }
        let person = if !is_person(login) {
            None
        } else {
            match self
                .client
                .get_json::<User>(cancel, &format!("user/{}", segment(login)), &[])
                .await
            {
                Ok(u) => Some(Profile::from_user(login, &u)),
                Err(e) if matches!(e.status(), Some(403 | 404)) => Some(Profile::of_login(login)),
                Err(e) => return Err(e),
            }
        };
        self.people.insert(key, person.clone());
        Ok(person)
    }

    async fn ticket_records(
        &mut self,
        cancel: &CancellationToken,
        full: &Full,
        incremental_since: Option<DateTime<Utc>>,
        out: &mut Vec<Record>,
    ) -> Result<(), ConnectorError> {
        let ticket = &full.ticket;
        let queue = self.queue_name(cancel, &ticket.queue).await?;
        let entity = EntityRef {
            system: self.system.clone(),
            project: Some(queue),
            entity_type: ticket.kind.clone().filter(|k| !k.is_empty()),
            entity_id: ticket.id.clone(),
        };
        let is_new = |at: DateTime<Utc>| incremental_since.is_none_or(|s| at >= s);
        let mapped = |role: &str| {
            self.settings
                .mapped_fields
                .iter()
                .any(|m| m.trim().eq_ignore_ascii_case(role))
        };

        // (login, how, when), resolved below in order.
        let mut seen_refs: Vec<(String, Interaction, DateTime<Utc>)> = Vec::new();
        for t in full.history.iter().filter(|t| is_new(t.created)) {
            if let (Some(how), Some(who)) = (interaction_of(&t.kind), &t.creator) {
                seen_refs.push((who.id.clone(), how, t.created));
            }
        }
        for a in full.attachments.iter().filter(|a| is_new(a.created)) {
            let has_file = a.filename.as_deref().is_some_and(|f| !f.trim().is_empty());
            if let (true, Some(who)) = (has_file, &a.creator) {
                seen_refs.push((who.id.clone(), Interaction::AttachmentAuthor, a.created));
            }
        }
        let roles: [(&str, Vec<&Ref>); 4] = [
            ("Requestor", ticket.requestor.iter().collect()),
            ("Owner", ticket.owner.iter().collect()),
            ("Cc", ticket.cc.iter().collect()),
            ("AdminCc", ticket.admin_cc.iter().collect()),
        ];
        for (role, refs) in roles {
            if !mapped(role) {
                continue;
            }
            // Groups can be watchers too; only users are people.
            for r in refs.into_iter().filter(|r| r.is_user()) {
                seen_refs.push((
                    r.id.clone(),
                    Interaction::MappedUserField,
                    ticket.last_updated,
                ));
            }
        }

        // One observation per person, interaction and moment within a ticket: an Owner who
        // is also AdminCc is one mapped-field observation, not two.
        let mut obs = Observations::new(&entity);
        for (login, interaction, at) in seen_refs {
            if let Some(p) = self.person(cancel, &login).await? {
                obs.push(p.person, interaction, at);
            }
        }
        out.extend(obs.into_records());

        if let (Some(field), Some(link_system)) =
            (&self.settings.link_field, &self.settings.link_system)
        {
            let mut keys = Vec::new();
            for cf in ticket
                .custom_fields
                .iter()
                .filter(|f| f.name.trim().eq_ignore_ascii_case(field.trim()))
            {
                for v in &cf.values {
                    if let Some(s) = v.as_str() {
                        split_keys(s, &mut keys);
                    }
                }
            }
            for key in keys {
                out.push(Record::Sync(SyncRecord {
                    at: ticket.last_updated,
                    status: SyncStatus::Success,
                    source: entity.clone(),
                    target: link_target(link_system, self.settings.link_project.as_deref(), &key),
                }));
            }
        }
        Ok(())
    }

    /// The user directory as `account` records. It needs the AdminUsers right (RT hides
    /// `Disabled` and most users from others); without it, a warning, and the observations
    /// already sent stand.
    async fn directory(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
    ) -> Result<(), ConnectorError> {
        let at = Utc::now();
        let listed = match fetch_all::<UserSummary>(
            &self.client,
            cancel,
            "users",
            &[("find_disabled_rows", "1"), ("fields", "Name")],
        )
        .await
        {
            Ok(l) => l,
            Err(e) if matches!(e.status(), Some(401 | 403)) => {
                ctx.warn(format!(
                    "RT's user directory is not readable with this account ({e}); no \
                     accounts are reported: use an account with the AdminUsers right"
                ))
                .await?;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let logins: Vec<String> = listed
            .into_iter()
            .map(|u| u.name.filter(|n| !n.trim().is_empty()).unwrap_or(u.id))
            .filter(|l| is_person(l))
            .collect();

        // Profiles not read yet, concurrently within the connector's limit.
        let mut tasks = JoinSet::new();
        for login in logins.iter().filter(|l| {
            self.people
                .get(&l.to_lowercase())
                .is_none_or(|p| p.as_ref().is_none_or(|p| p.disabled.is_none()))
        }) {
            let client = self.client.clone();
            let cancel = cancel.clone();
            let login = login.clone();
            tasks.spawn(async move {
                let got = client
                    .get_json::<User>(&cancel, &format!("user/{}", segment(&login)), &[])
                    .await;
                (login, got)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            let (login, got) = joined.map_err(|e| {
                ConnectorError::Source(format!("a user fetch stopped unexpectedly: {e}"))
            })?;
            match got {
                Ok(u) => {
                    self.people
                        .insert(login.to_lowercase(), Some(Profile::from_user(&login, &u)));
                }
                // Deleted between the listing and now.
                Err(e) if e.status() == Some(404) => {}
                Err(e) if matches!(e.status(), Some(401 | 403)) => {
                    tasks.abort_all();
                    ctx.warn(format!(
                        "RT's user profiles are not readable with this account ({e}); no \
                         accounts are reported: use an account with the AdminUsers right"
                    ))
                    .await?;
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }

        let mut accounts = Vec::new();
        for login in &logins {
            let Some(Some(p)) = self.people.get(&login.to_lowercase()) else {
                continue;
            };
            let Some(disabled) = p.disabled else {
                ctx.warn(format!(
                    "RT shows only user summaries to this account (no Disabled flag, e.g. for \
                     '{login}'); no accounts are reported: use an account with the AdminUsers \
                     right"
                ))
                .await?;
                return Ok(());
            };
            accounts.push(Record::Account(Account {
                system: self.system.clone(),
                at,
                id: p.person.id.clone().unwrap_or_else(|| p.login.clone()),
                email: p.person.email.clone(),
                username: Some(p.login.clone()),
                display_name: p.person.display_name.clone(),
                status: if disabled {
                    AccountStatus::Disabled
                } else {
                    AccountStatus::Active
                },
                // Privileged users work in RT's staff interface; unprivileged ones are end
                // users (requestors) who only write mail or use the self-service pages.
                billable: p.privileged,
                product: Some(if p.privileged {
                    "Privileged".to_string()
                } else {
                    "Unprivileged".to_string()
                }),
                last_active: None,
                two_step: None,
                sso: None,
                service_account: false,
            }));
        }
        for chunk in accounts.chunks(500) {
            ctx.send_batch(chunk.to_vec()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_bare_timestamps_and_old_cursors() {
        let mut c = Cursor::from("2026-10-01T12:00:00Z".parse().unwrap());
        c.ids = vec!["3".into(), "9".into()];
        assert_eq!(Cursor::parse(&c.encode(CURSOR_KEY), CURSOR_KEY), Some(c));
        // What the previous version saved.
        let old = Cursor::parse(
            r#"{"last_updated":"2026-10-01T12:00:00Z","ids":["3","9"]}"#,
            CURSOR_KEY,
        );
        assert_eq!(
            old.map(|c| c.ids),
            Some(vec!["3".to_string(), "9".to_string()])
        );
        let bare = Cursor::parse("2026-10-01T14:00:00+02:00", CURSOR_KEY).unwrap();
        assert_eq!(bare.at.to_rfc3339(), "2026-10-01T12:00:00+00:00");
        assert_eq!(Cursor::parse("yesterday", CURSOR_KEY), None);
    }

    #[test]
    fn transaction_types() {
        assert_eq!(interaction_of("Create"), Some(Interaction::Updater));
        assert_eq!(
            interaction_of("Correspond"),
            Some(Interaction::CommentAuthor)
        );
        assert_eq!(interaction_of("Comment"), Some(Interaction::CommentAuthor));
        assert_eq!(interaction_of("Set"), Some(Interaction::Updater));
        assert_eq!(interaction_of("EmailRecord"), None);
    }

    #[test]
    fn segments_and_literals() {
        assert_eq!(segment("ann@corp.example"), "ann%40corp.example");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(quoted("O'Brien \\ x"), "'O\\'Brien \\\\ x'");
        assert!(!is_person("RT_System") && !is_person("nobody") && is_person("alee"));
    }
}
