//! One collection run: list changed issues page by page, fetch each one in full, turn it
//! into records, send them, then move the cursor.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration as Days, SecondsFormat, Utc};
use tally_http::cursor::LastSecond;
use tally_http::links::link_target;
use tally_http::people::non_empty;
use tally_http::{
    CancellationToken, HttpClient, HttpError, Observations, OffsetPager, OffsetPaging, Person,
};
use tally_model::{
    ConnectorContext, ConnectorError, EntityRef, Interaction, Record, SyncRecord, SyncStatus,
};
use tokio::task::JoinSet;

use crate::api::{
    Issue, IssueEnvelope, IssueList, IssueSummary, ProjectEnvelope, Ref, User, UserEnvelope,
};
use crate::directory::{self, DirectoryError};
use crate::mentions::mentioned_logins;
use crate::Settings;

/// Where the previous run stopped: the last `updated_on` it processed and the issues it
/// processed at exactly that second (Redmine's `>=` filter works in whole seconds).
pub(crate) type Cursor = LastSecond<u64>;

/// The key the cursor's second is saved under.
const CURSOR_KEY: &str = "updated_on";

/// Who a Redmine user is, as far as this account may see.
fn person_of(u: &User) -> Option<Person> {
    let login = u.login.as_deref().map(str::trim).unwrap_or("");
    // Redmine's built-in Anonymous user (and what deleted users' history points to) has no
    // login: nobody to count.
    if login.is_empty() {
        return None;
    }
    let display = format!(
        "{} {}",
        u.firstname.as_deref().unwrap_or("").trim(),
        u.lastname.as_deref().unwrap_or("").trim()
    );
    Some(Person {
        id: Some(u.id.to_string()),
        username: Some(login.to_string()),
        email: non_empty(u.mail.as_deref()),
        display_name: non_empty(Some(&display)),
        service_account: false,
    })
}

/// The users directory (`/users.json`) for resolving `@login` mentions: administrators only.
enum Directory {
    NotLoaded,
    Loaded,
    Unavailable,
}

/// Resolves user ids and logins to people, each at most once per run.
struct People {
    by_id: HashMap<u64, Option<Person>>,
    by_login: HashMap<String, Person>,
    directory: Directory,
    /// The login of a user whose profile came without an e-mail address (told once).
    missing_mail: Option<String>,
    mail_warned: bool,
}

impl People {
    fn new() -> Self {
        People {
            by_id: HashMap::new(),
            by_login: HashMap::new(),
            directory: Directory::NotLoaded,
            missing_mail: None,
            mail_warned: false,
        }
    }

    fn remember(&mut self, user: &User) -> Option<Person> {
        let person = person_of(user);
        if let Some(p) = &person {
            if p.email.is_none() && self.missing_mail.is_none() {
                self.missing_mail = p.username.clone();
            }
            if let Some(login) = &p.username {
                self.by_login.insert(login.to_lowercase(), p.clone());
            }
        }
        self.by_id.insert(user.id, person.clone());
        person
    }

    /// The person behind a reference like `{"id": 5, "name": "Ann Lee"}`.
    async fn by_ref(
        &mut self,
        client: &HttpClient,
        cancel: &CancellationToken,
        r: &Ref,
    ) -> Result<Option<Person>, HttpError> {
        if let Some(known) = self.by_id.get(&r.id) {
            return Ok(known.clone());
        }
        match client
            .get_json::<UserEnvelope>(cancel, &format!("users/{}.json", r.id), &[])
            .await
        {
            Ok(env) => Ok(self.remember(&env.user)),
            // Not visible to this account (no shared project), deleted, or a group
            // assignee: the name Redmine showed is all there is.
            Err(e) if matches!(e.status(), Some(403 | 404)) => {
                let name = r.name.as_deref().map(str::trim).unwrap_or("");
                let person = (!name.is_empty() && name != "Anonymous").then(|| Person {
                    display_name: Some(name.to_string()),
                    ..Person::default()
                });
                self.by_id.insert(r.id, person.clone());
                Ok(person)
            }
            Err(e) => Err(e),
        }
    }

    /// The person an `@login` mention names. With the users directory, a login nobody has
    /// is not a person (`@media`); without it (not an administrator), the login is kept.
    async fn by_login(
        &mut self,
        client: &HttpClient,
        cancel: &CancellationToken,
        login: &str,
    ) -> Result<Option<Person>, HttpError> {
        let key = login.to_lowercase();
        if let Some(p) = self.by_login.get(&key) {
            return Ok(Some(p.clone()));
        }
        if matches!(self.directory, Directory::NotLoaded) {
            self.load_directory(client, cancel).await?;
        }
        Ok(match self.directory {
            Directory::Loaded => self.by_login.get(&key).cloned(),
            _ => Some(Person {
                username: Some(login.to_string()),
                ..Person::default()
            }),
        })
    }

    async fn load_directory(
        &mut self,
        client: &HttpClient,
        cancel: &CancellationToken,
    ) -> Result<(), HttpError> {
        // `status=` (empty) lists active, registered and locked users alike.
        let mut pager = OffsetPager::new(
            client,
            "users.json",
            &[("status", "")],
            OffsetPaging::redmine("users"),
        );
        loop {
            match pager.next_page::<User>(cancel).await {
                Ok(Some(page)) => {
                    for u in &page.items {
                        self.remember(u);
                    }
                }
                Ok(None) => break,
                Err(e) if matches!(e.status(), Some(403 | 401)) => {
                    self.directory = Directory::Unavailable;
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        self.directory = Directory::Loaded;
        Ok(())
    }
}

/// The state of one run.
pub(crate) struct Collector<'a> {
    client: HttpClient,
    system: String,
    settings: &'a Settings,
    people: People,
    /// Project id -> identifier (what `projects` names and reports show).
    projects: HashMap<u64, String>,
}

impl<'a> Collector<'a> {
    pub fn new(client: HttpClient, system: String, settings: &'a Settings) -> Self {
        Collector {
            client,
            system,
            settings,
            people: People::new(),
            projects: HashMap::new(),
        }
    }

    pub async fn run(mut self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        let cancel = ctx.shutdown().clone();
        let saved = tally_http::cursor::saved(ctx, self.settings.lookback_days, |text| {
            Cursor::parse(text, CURSOR_KEY)
        })
        .await?;
        let admin = self.check_account(ctx, &cancel).await?;
        if admin && self.settings.directory {
            self.read_directory(ctx, &cancel).await?;
        }
        // Journals and attachments older than the cursor were sent by an earlier run.
        let incremental_since = saved.as_ref().map(|c| c.at);
        let mut cursor = saved.unwrap_or_else(|| {
            Cursor::from(Utc::now() - Days::days(i64::from(self.settings.lookback_days)))
        });
        let project_ids = self.configured_projects(&cancel).await?;

        // Keyset paging on (updated_on, id): after each page the query restarts from the
        // last `updated_on` seen. Plain offsets over a listing sorted by `updated_on` skip
        // issues whenever one is updated while the run pages through it.
        let mut since = cursor.at;
        let mut offset = 0u64;
        let mut done_issues = 0u64;
        let mut total: Option<u64> = None;
        let mut processed: HashSet<(u64, DateTime<Utc>)> =
            cursor.ids.iter().map(|id| (*id, cursor.at)).collect();
        loop {
            let list = self.list(&cancel, since, offset, &project_ids).await?;
            if total.is_none() {
                total = list.total_count;
            }
            let page_len = list.issues.len() as u64;
            // Redmine compares stored timestamps with sub-second parts against whole
            // seconds, so it may return issues from just before `since`: drop them.
            let fresh: Vec<IssueSummary> = list
                .issues
                .iter()
                .filter(|i| i.updated_on >= since)
                .filter(|i| processed.insert((i.id, i.updated_on)))
                .cloned()
                .collect();
            if !fresh.is_empty() {
                let records = self.records_for(&cancel, &fresh, incremental_since).await?;
                ctx.send_batch(records).await?;
                for issue in &fresh {
                    cursor.advance(issue.updated_on, &issue.id);
                }
                if let Some(login) = self.people.missing_mail.clone() {
                    if !self.people.mail_warned {
                        self.people.mail_warned = true;
                        ctx.warn(format!(
                            "Redmine has no e-mail address for some users (e.g. '{login}'); \
                             they are matched by login and name only"
                        ))
                        .await?;
                    }
                }
                // Only after this page's records are on their way to the store.
                ctx.checkpoint(cursor.encode(CURSOR_KEY)).await?;
                done_issues += fresh.len() as u64;
                ctx.progress(done_issues, total.map(|t| t.max(done_issues)))
                    .await?;
            }
            let Some(last) = list.issues.last() else {
                break;
            };
            let reached_end = match list.total_count {
                Some(t) => offset + page_len >= t,
                None => page_len < u64::from(self.settings.page_size),
            };
            if reached_end {
                break;
            }
            if last.updated_on > since {
                since = last.updated_on;
                offset = 0;
            } else {
                // A whole page within one second: step over it.
                offset += page_len;
            }
        }
        Ok(())
    }

    /// Reads the users directory into `account` records. A directory that cannot be read
    /// is a warning: the observations are still collected.
    async fn read_directory(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
    ) -> Result<(), ConnectorError> {
        match directory::read(
            &self.client,
            ctx,
            cancel,
            &self.system,
            self.settings.page_size,
        )
        .await
        {
            Ok(users) => {
                for u in &users {
                    self.people.remember(u);
                }
                self.people.directory = Directory::Loaded;
                Ok(())
            }
            Err(DirectoryError::Connector(e)) => Err(e),
            Err(DirectoryError::Http(e)) if e.is_cancelled() => Err(ConnectorError::Cancelled),
            Err(DirectoryError::Http(e)) => {
                ctx.warn(format!(
                    "the users directory (/users.json) could not be read, so this run has no \
                     accounts (observations are still collected): {e}; listing users needs \
                     an administrator's API key"
                ))
                .await
            }
        }
    }

    /// Checks the key before anything else: Redmine treats an unknown API key as the
    /// anonymous user, which may read public projects, so a wrong key would otherwise
    /// "work" and quietly collect less. Also tells, once, when the account is not an
    /// administrator and e-mail addresses and accounts will be missing. Returns whether
    /// the key is an administrator's.
    async fn check_account(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
    ) -> Result<bool, ConnectorError> {
        let me = match self
            .client
            .get_json::<UserEnvelope>(cancel, "users/current.json", &[])
            .await
        {
            Ok(me) => me.user,
            Err(e) if e.status() == Some(403) => {
                return Err(ConnectorError::Source(format!(
                    "{e}; in Redmine also check that the REST API is enabled (Administration \
                     -> Settings -> API -> Enable REST web service) and that the account does \
                     not have to change its password first"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let admin = me.admin == Some(true);
        if !admin {
            let login = me.login.clone().unwrap_or_default();
            self.people.mail_warned = true;
            let accounts = if self.settings.directory {
                ", and no accounts are read from the users directory"
            } else {
                ""
            };
            ctx.warn(format!(
                "the API key belongs to '{login}', who is not a Redmine administrator: Redmine \
                 hides most e-mail addresses and the users list from it, so users are matched \
                 by login and name only{accounts}; use an administrator's API key to include \
                 emails and accounts"
            ))
            .await?;
        }
        Ok(admin)
    }

    /// Ids of the configured projects (the issue filter takes ids, not identifiers).
    async fn configured_projects(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Vec<u64>, ConnectorError> {
        let mut ids = Vec::new();
        for identifier in &self.settings.projects {
            let identifier = identifier.trim();
            let env: ProjectEnvelope = self
                .client
                .get_json(cancel, &format!("projects/{identifier}.json"), &[])
                .await
                .map_err(|e| match e.status() {
                    Some(404 | 403) => ConnectorError::Config(format!(
                        "connector '{}': project '{identifier}' was not found or is not \
                         visible to this account; `projects` takes project identifiers as in \
                         the URL /projects/<identifier> ({e})",
                        self.client.connector()
                    )),
                    _ => e.into(),
                })?;
            self.projects
                .insert(env.project.id, env.project.identifier.clone());
            ids.push(env.project.id);
        }
        Ok(ids)
    }

    async fn list(
        &self,
        cancel: &CancellationToken,
        since: DateTime<Utc>,
        offset: u64,
        project_ids: &[u64],
    ) -> Result<IssueList, HttpError> {
        let since = format!(">={}", since.to_rfc3339_opts(SecondsFormat::Secs, true));
        let offset = offset.to_string();
        let limit = self.settings.page_size.to_string();
        let ids: Vec<String> = project_ids.iter().map(u64::to_string).collect();
        // The generic filter syntax, because the short `project_id=` parameter takes a
        // single project.
        let mut query: Vec<(&str, &str)> = vec![
            ("set_filter", "1"),
            ("f[]", "status_id"),
            ("op[status_id]", "*"),
            ("f[]", "updated_on"),
            ("op[updated_on]", ">="),
            ("v[updated_on][]", &since[2..]),
        ];
        if !ids.is_empty() {
            query.push(("f[]", "project_id"));
            query.push(("op[project_id]", "="));
            for id in &ids {
                query.push(("v[project_id][]", id));
            }
        }
        query.extend([
            ("sort", "updated_on,id"),
            ("offset", offset.as_str()),
            ("limit", limit.as_str()),
        ]);
        self.client.get_json(cancel, "issues.json", &query).await
    }

    /// Fetches the issues in full (concurrently, within the connector's limit) and turns
    /// them into records. An issue deleted or hidden since it was listed is skipped.
    async fn records_for(
        &mut self,
        cancel: &CancellationToken,
        summaries: &[IssueSummary],
        incremental_since: Option<DateTime<Utc>>,
    ) -> Result<Vec<Record>, ConnectorError> {
        let mut tasks = JoinSet::new();
        for (index, summary) in summaries.iter().enumerate() {
            let client = self.client.clone();
            let cancel = cancel.clone();
            let id = summary.id;
            tasks.spawn(async move {
                let got = client
                    .get_json::<IssueEnvelope>(
                        &cancel,
                        &format!("issues/{id}.json"),
                        &[("include", "journals,attachments,watchers")],
                    )
                    .await;
                (index, got)
            });
        }
        let mut issues: Vec<Option<Issue>> = vec![None; summaries.len()];
        while let Some(joined) = tasks.join_next().await {
            let (index, got) = joined.map_err(|e| {
                ConnectorError::Source(format!("an issue fetch stopped unexpectedly: {e}"))
            })?;
            match got {
                Ok(env) => issues[index] = Some(env.issue),
                Err(e) if matches!(e.status(), Some(403 | 404)) => {
                    tracing::debug!("skipping an issue that is gone or hidden: {e}");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut records = Vec::new();
        for issue in issues.into_iter().flatten() {
            self.issue_records(cancel, &issue, incremental_since, &mut records)
                .await?;
        }
        Ok(records)
    }

    async fn project_identifier(
        &mut self,
        cancel: &CancellationToken,
        project: &Ref,
    ) -> Result<String, HttpError> {
        if let Some(known) = self.projects.get(&project.id) {
            return Ok(known.clone());
        }
        let identifier = match self
            .client
            .get_json::<ProjectEnvelope>(cancel, &format!("projects/{}.json", project.id), &[])
            .await
        {
            Ok(env) => env.project.identifier,
            Err(e) if matches!(e.status(), Some(403 | 404)) => project
                .name
                .clone()
                .unwrap_or_else(|| project.id.to_string()),
            Err(e) => return Err(e),
        };
        self.projects.insert(project.id, identifier.clone());
        Ok(identifier)
    }

    async fn issue_records(
        &mut self,
        cancel: &CancellationToken,
        issue: &Issue,
        incremental_since: Option<DateTime<Utc>>,
        out: &mut Vec<Record>,
    ) -> Result<(), ConnectorError> {
        let project = self.project_identifier(cancel, &issue.project).await?;
        let entity = EntityRef {
            system: self.system.clone(),
            project: Some(project),
            entity_type: issue.tracker.as_ref().and_then(|t| t.name.clone()),
            entity_id: issue.id.to_string(),
        };
        let mut obs = Observations::new(&entity);
        let client = self.client.clone();
        let mapped = |f: &str| {
            self.settings
                .mapped_fields
                .iter()
                .any(|m| m.eq_ignore_ascii_case(f))
        };
        let (map_author, map_assignee, map_watchers) =
            (mapped("author"), mapped("assignee"), mapped("watchers"));
        let is_new = |at: DateTime<Utc>| incremental_since.is_none_or(|s| at >= s);

        // (who, how, when): resolved below, in order.
        let mut refs: Vec<(Ref, Interaction, DateTime<Utc>)> = Vec::new();
        let mut logins: Vec<(String, DateTime<Utc>)> = Vec::new();
        if let Some(author) = &issue.author {
            refs.push((author.clone(), Interaction::Updater, issue.created_on));
            if map_author {
                refs.push((
                    author.clone(),
                    Interaction::MappedUserField,
                    issue.updated_on,
                ));
            }
        }
        if let Some(description) = &issue.description {
            for login in mentioned_logins(description) {
                logins.push((login, issue.created_on));
            }
        }
        for journal in issue.journals.iter().filter(|j| is_new(j.created_on)) {
            let notes = journal.notes.as_deref().unwrap_or("").trim();
            if let Some(user) = &journal.user {
                if !notes.is_empty() {
                    refs.push((user.clone(), Interaction::CommentAuthor, journal.created_on));
                }
                if !journal.details.is_empty() || notes.is_empty() {
                    refs.push((user.clone(), Interaction::Updater, journal.created_on));
                }
            }
            for login in mentioned_logins(notes) {
                logins.push((login, journal.created_on));
            }
        }
        for attachment in issue.attachments.iter().filter(|a| is_new(a.created_on)) {
            if let Some(author) = &attachment.author {
                refs.push((
                    author.clone(),
                    Interaction::AttachmentAuthor,
                    attachment.created_on,
                ));
            }
        }
        if map_assignee {
            if let Some(assignee) = &issue.assigned_to {
                refs.push((
                    assignee.clone(),
                    Interaction::MappedUserField,
                    issue.updated_on,
                ));
            }
        }
        if map_watchers {
            for watcher in &issue.watchers {
                refs.push((
                    watcher.clone(),
                    Interaction::MappedUserField,
                    issue.updated_on,
                ));
            }
        }
        for field in &issue.custom_fields {
            if !mapped(&field.name) {
                continue;
            }
            // A user custom field holds user ids.
            for value in field.values() {
                if let Ok(id) = value.parse::<u64>() {
                    refs.push((
                        Ref { id, name: None },
                        Interaction::MappedUserField,
                        issue.updated_on,
                    ));
                }
            }
        }

        for (r, interaction, at) in refs {
            if let Some(person) = self.people.by_ref(&client, cancel, &r).await? {
                obs.push(person, interaction, at);
            }
        }
        for (login, at) in logins {
            if let Some(person) = self.people.by_login(&client, cancel, &login).await? {
                obs.push(person, Interaction::Mention, at);
            }
        }
        out.extend(obs.into_records());

        if let (Some(field), Some(link_system)) =
            (&self.settings.link_field, &self.settings.link_system)
        {
            let keys: Vec<&str> = issue
                .custom_fields
                .iter()
                .filter(|f| f.name.eq_ignore_ascii_case(field))
                .flat_map(|f| f.values())
                .collect();
            for key in keys {
                out.push(Record::Sync(SyncRecord {
                    at: issue.updated_on,
                    status: SyncStatus::Success,
                    source: entity.clone(),
                    target: link_target(link_system, self.settings.link_project.as_deref(), key),
                }));
            }
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
        c.ids = vec![3, 9];
        assert_eq!(Cursor::parse(&c.encode(CURSOR_KEY), CURSOR_KEY), Some(c));
        // What the previous version saved.
        let old = Cursor::parse(
            r#"{"updated_on":"2026-10-01T12:00:00Z","ids":[3,9]}"#,
            CURSOR_KEY,
        );
        assert_eq!(old.map(|c| c.ids), Some(vec![3, 9]));
        let bare = Cursor::parse("2026-10-01T14:00:00+02:00", CURSOR_KEY).unwrap();
        assert_eq!(bare.at.to_rfc3339(), "2026-10-01T12:00:00+00:00");
        assert!(bare.ids.is_empty());
        assert_eq!(Cursor::parse("yesterday", CURSOR_KEY), None);
    }
}
