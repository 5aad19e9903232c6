//! One collection run: check the token, read the directory, then walk each configured
//! group's and project's issues and merge requests changed since the cursor, page by
//! page, with their notes; then the projects' uploads. Each page's records are sent
//! before the cursor moves past them.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration as Days, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_http::links::link_target;
use tally_http::{observation, CancellationToken, HttpError, Observations, Url};
use tally_model::{
    ConnectorContext, ConnectorError, EntityRef, Interaction, Record, SyncRecord, SyncStatus,
    UserObservation,
};
use tokio::task::JoinSet;

use crate::api::{
    encode_id, label_names, Api, CurrentUser, Issue, MergeRequest, Note, Project, Upload, UserRef,
};
use crate::directory::{self, People, Person, Source};
use crate::mentions::{links_upload, mentioned_usernames};
use crate::Settings;

/// Where one listing (the issues of a group, the uploads of a project, …) stopped: the
/// last `updated_at` (or `created_at`) processed and the items processed at exactly that
/// moment. GitLab's `updated_after` is inclusive, so the next run asks from that moment
/// again and skips those items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Mark {
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub ids: Vec<u64>,
}

impl Mark {
    fn advance(&mut self, id: u64, at: DateTime<Utc>) {
        if at > self.at {
            self.at = at;
            self.ids.clear();
        }
        if at == self.at && !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }
}

/// The cursor: one mark per listing, keyed `issues:groups:<path>`,
/// `merge_requests:projects:<path>`, `uploads:<project id>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    #[serde(default)]
    pub streams: BTreeMap<String, Mark>,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        serde_json::from_str(text).ok()
    }

    pub fn encode(&self) -> String {
        // A map of timestamps and integers always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What issues and merge requests have in common, for turning either into records.
pub(crate) trait Entity: DeserializeOwned + Send + 'static {
    /// `issues` or `merge_requests`: the listing's path and the notes' parent.
    const PATH: &'static str;
    /// `#` for issues, `!` for merge requests, as in GitLab references.
    const SIGIL: char;
    fn id(&self) -> u64;
    fn iid(&self) -> u64;
    fn project_id(&self) -> u64;
    fn created_at(&self) -> DateTime<Utc>;
    fn updated_at(&self) -> DateTime<Utc>;
    fn entity_type(&self) -> String;
    fn reference(&self) -> Option<&str>;
    fn author(&self) -> Option<&UserRef>;
    fn description(&self) -> Option<&str>;
    fn assignees(&self) -> &[UserRef];
    fn reviewers(&self) -> &[UserRef] {
        &[]
    }
    /// Who changed its state, and when: closers, mergers.
    fn changers(&self) -> Vec<(&UserRef, DateTime<Utc>)>;
    fn labels(&self) -> &[Value];
}

fn issue_type_name(t: &str) -> String {
    match t {
        "issue" => "Issue".to_string(),
        "incident" => "Incident".to_string(),
        "test_case" => "Test Case".to_string(),
        "task" => "Task".to_string(),
        other => {
            let spaced = other.replace('_', " ");
            let mut c = spaced.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => "Issue".to_string(),
            }
        }
    }
}

impl Entity for Issue {
    const PATH: &'static str = "issues";
    const SIGIL: char = '#';
    fn id(&self) -> u64 {
        self.id
    }
    fn iid(&self) -> u64 {
        self.iid
    }
    fn project_id(&self) -> u64 {
        self.project_id
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn entity_type(&self) -> String {
        issue_type_name(self.issue_type.as_deref().unwrap_or("issue"))
    }
    fn reference(&self) -> Option<&str> {
        self.references.as_ref().map(|r| r.full.as_str())
    }
    fn author(&self) -> Option<&UserRef> {
        self.author.as_ref()
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn assignees(&self) -> &[UserRef] {
        &self.assignees
    }
    fn changers(&self) -> Vec<(&UserRef, DateTime<Utc>)> {
        match (&self.closed_by, self.closed_at) {
            (Some(u), Some(at)) => vec![(u, at)],
            _ => Vec::new(),
        }
    }
    fn labels(&self) -> &[Value] {
        &self.labels
    }
}

impl Entity for MergeRequest {
    const PATH: &'static str = "merge_requests";
    const SIGIL: char = '!';
    fn id(&self) -> u64 {
        self.id
    }
    fn iid(&self) -> u64 {
        self.iid
    }
    fn project_id(&self) -> u64 {
        self.project_id
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    fn entity_type(&self) -> String {
        "Merge Request".to_string()
    }
    fn reference(&self) -> Option<&str> {
        self.references.as_ref().map(|r| r.full.as_str())
    }
    fn author(&self) -> Option<&UserRef> {
        self.author.as_ref()
    }
    fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    fn assignees(&self) -> &[UserRef] {
        &self.assignees
    }
    fn reviewers(&self) -> &[UserRef] {
        &self.reviewers
    }
    fn changers(&self) -> Vec<(&UserRef, DateTime<Utc>)> {
        let mut out = Vec::new();
        if let (Some(u), Some(at)) = (
            self.merge_user.as_ref().or(self.merged_by.as_ref()),
            self.merged_at,
        ) {
            out.push((u, at));
        }
        if let (Some(u), Some(at)) = (&self.closed_by, self.closed_at) {
            out.push((u, at));
        }
        out
    }
    fn labels(&self) -> &[Value] {
        &self.labels
    }
}

/// A configured group or project: `groups` or `projects`, and its path or id.
#[derive(Debug, Clone)]
struct Scope {
    kind: &'static str,
    id: String,
}

/// The state of one run.
pub(crate) struct Collector<'a> {
    api: Api,
    system: String,
    settings: &'a Settings,
    people: People,
    started: DateTime<Utc>,
    sent_items: u64,
}

impl<'a> Collector<'a> {
    pub fn new(api: Api, system: String, settings: &'a Settings) -> Self {
        Collector {
            api,
            system,
            settings,
            people: People::default(),
            started: Utc::now(),
            sent_items: 0,
        }
    }

    fn lookback_start(&self) -> DateTime<Utc> {
        self.started - Days::days(i64::from(self.settings.lookback_days))
    }

    pub async fn run(mut self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        let cancel = ctx.shutdown().clone();
        let mut cursor = tally_http::cursor::saved(ctx, self.settings.lookback_days, Cursor::parse)
            .await?
            .unwrap_or_default();
        // First, so that a wrong or expired token fails the run with GitLab's own answer
        // before anything else is asked.
        let me: CurrentUser = self.api.get(&cancel, "user", &[]).await?;
        let admin = me.is_admin == Some(true);
        if self.settings.directory {
            self.read_directory(ctx, &cancel, admin, &me).await?;
        }

        let scopes: Vec<Scope> = self
            .settings
            .groups
            .iter()
            .map(|g| Scope {
                kind: "groups",
                id: g.trim().to_string(),
            })
            .chain(self.settings.projects.iter().map(|p| Scope {
                kind: "projects",
                id: p.trim().to_string(),
            }))
            .collect();
        for scope in &scopes {
            self.walk::<Issue>(ctx, &cancel, &mut cursor, scope).await?;
            if self.settings.merge_requests {
                self.walk::<MergeRequest>(ctx, &cancel, &mut cursor, scope)
                    .await?;
            }
        }
        if self.settings.uploads {
            self.uploads(ctx, &cancel, &mut cursor, &scopes).await?;
        }
        Ok(())
    }

    async fn read_directory(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
        admin: bool,
        me: &CurrentUser,
    ) -> Result<(), ConnectorError> {
        let scope = directory::Scope {
            system: &self.system,
            at: self.started,
            admin,
            groups: &self.settings.groups,
            projects: &self.settings.projects,
            page_size: self.settings.page_size,
        };
        match directory::read(&self.api, cancel, &scope, &mut self.people).await {
            Ok((source, accounts)) => {
                if source == Source::Members {
                    let who = me.username.clone().unwrap_or_default();
                    ctx.warn(format!(
                        "the token belongs to '{who}', who is not a GitLab administrator: the \
                         accounts are the members of the configured groups and projects, \
                         without two-factor state, last activity or seat use, and e-mail \
                         addresses only where GitLab shows them; use an administrator's \
                         token to read the whole instance's users"
                    ))
                    .await?;
                }
                ctx.send_batch(accounts.into_iter().map(Record::Account).collect())
                    .await?;
            }
            Err(e) if e.is_cancelled() => return Err(e.into()),
            Err(e) => {
                ctx.warn(format!(
                    "the user directory could not be read, so no accounts are reported and \
                     people are matched by username and name only: {e}"
                ))
                .await?;
            }
        }
        Ok(())
    }

    fn scope_error(&self, scope: &Scope, e: HttpError) -> ConnectorError {
        match e.status() {
            Some(404 | 403) => ConnectorError::Config(format!(
                "connector '{}': {} '{}' was not found or is not visible to this token; \
                 `{}` takes full paths as in the URL (`my-group/sub`) or numeric ids ({e})",
                self.api.client().connector(),
                if scope.kind == "groups" {
                    "group"
                } else {
                    "project"
                },
                scope.id,
                scope.kind
            )),
            _ => e.into(),
        }
    }

    fn list_url(&self, scope: &Scope, path: &str, since: DateTime<Utc>) -> Result<Url, HttpError> {
        let since = since.to_rfc3339_opts(SecondsFormat::Millis, true);
        let per_page = self.settings.page_size.to_string();
        self.api.url(
            &format!("{}/{}/{path}", scope.kind, encode_id(&scope.id)),
            &[
                ("updated_after", since.as_str()),
                ("order_by", "updated_at"),
                ("sort", "asc"),
                ("scope", "all"),
                ("state", "all"),
                ("per_page", per_page.as_str()),
            ],
        )
    }

    /// Walks one scope's issues or merge requests. After each page the listing restarts
    /// from the last `updated_at` seen (`x-next-page` is followed only while a whole page
    /// shares one `updated_at`): plain page numbers over a listing sorted by `updated_at`
    /// skip items whenever one is updated while the run pages through it.
    async fn walk<T: Entity>(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
        cursor: &mut Cursor,
        scope: &Scope,
    ) -> Result<(), ConnectorError> {
        let key = format!("{}:{}:{}", T::PATH, scope.kind, scope.id);
        let saved = cursor.streams.get(&key).cloned();
        let mut mark = saved.clone().unwrap_or(Mark {
            at: self.lookback_start(),
            ids: Vec::new(),
        });
        // Notes older than the mark were sent by an earlier run (or are older than the
        // look-back).
        let notes_since = mark.at;
        let mut since = mark.at;
        let mut processed: HashSet<(u64, DateTime<Utc>)> =
            mark.ids.iter().map(|id| (*id, mark.at)).collect();
        let mut url = self
            .list_url(scope, T::PATH, since)
            .map_err(ConnectorError::from)?;
        let mut first = true;
        loop {
            let page = match self.api.page::<T>(cancel, &url).await {
                Ok(p) => p,
                Err(e) if first => return Err(self.scope_error(scope, e)),
                Err(e) => return Err(e.into()),
            };
            first = false;
            let fresh: Vec<T> = page
                .items
                .into_iter()
                .filter(|i| i.updated_at() >= since)
                .filter(|i| processed.insert((i.id(), i.updated_at())))
                .collect();
            let last_at = fresh.last().map(Entity::updated_at);
            if !fresh.is_empty() {
                let records = self.records_for(cancel, &fresh, notes_since).await?;
                ctx.send_batch(records).await?;
                for item in &fresh {
                    mark.advance(item.id(), item.updated_at());
                }
                cursor.streams.insert(key.clone(), mark.clone());
                // Only after this page's records are on their way to the store.
                ctx.checkpoint(cursor.encode()).await?;
                self.sent_items += fresh.len() as u64;
                ctx.progress(self.sent_items, None).await?;
            }
            let Some(next) = page.next else { break };
            url = match last_at {
                Some(at) if at > since => {
                    since = at;
                    self.list_url(scope, T::PATH, since)
                        .map_err(ConnectorError::from)?
                }
                _ => next,
            };
        }
        Ok(())
    }

    /// Reads the items' notes (concurrently, within the connector's limit) and turns the
    /// items into records. Notes of an item deleted or hidden since it was listed are
    /// skipped.
    async fn records_for<T: Entity>(
        &self,
        cancel: &CancellationToken,
        items: &[T],
        notes_since: DateTime<Utc>,
    ) -> Result<Vec<Record>, ConnectorError> {
        let mut tasks = JoinSet::new();
        for (index, item) in items.iter().enumerate() {
            let api = self.api.clone();
            let cancel = cancel.clone();
            let url = api.url(
                &format!(
                    "projects/{}/{}/{}/notes",
                    item.project_id(),
                    T::PATH,
                    item.iid()
                ),
                &[
                    ("sort", "asc"),
                    ("order_by", "created_at"),
                    ("per_page", &self.settings.page_size.to_string()),
                ],
            )?;
            tasks.spawn(async move { (index, api.all::<Note>(&cancel, url).await) });
        }
        let mut notes: Vec<Vec<Note>> = (0..items.len()).map(|_| Vec::new()).collect();
        while let Some(joined) = tasks.join_next().await {
            let (index, got) = joined.map_err(|e| {
                ConnectorError::Source(format!("a notes fetch stopped unexpectedly: {e}"))
            })?;
            match got {
                Ok(n) => notes[index] = n,
                Err(e) if matches!(e.status(), Some(403 | 404)) => {
                    tracing::debug!("skipping the notes of an item that is gone or hidden: {e}");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut out = Vec::new();
        for (item, notes) in items.iter().zip(notes) {
            self.item_records(item, &notes, notes_since, &mut out);
        }
        Ok(out)
    }

    fn item_records<T: Entity>(
        &self,
        item: &T,
        notes: &[Note],
        notes_since: DateTime<Utc>,
        out: &mut Vec<Record>,
    ) {
        let reference = item
            .reference()
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}{}{}", item.project_id(), T::SIGIL, item.iid()));
        let project = reference
            .rsplit_once(T::SIGIL)
            .map(|(p, _)| p.to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| item.project_id().to_string());
        let entity = EntityRef {
            system: self.system.clone(),
            project: Some(project),
            entity_type: Some(item.entity_type()),
            entity_id: reference,
        };
        let mapped = |f: &str| {
            self.settings
                .mapped_fields
                .iter()
                .any(|m| m.eq_ignore_ascii_case(f))
        };
        // One observation per person, interaction and moment within an item.
        let mut obs = Observations::new(&entity);
        let mut push = |person: Option<Person>, interaction: Interaction, at: DateTime<Utc>| {
            obs.push_some(person, interaction, at)
        };
        let people = &self.people;
        if let Some(author) = item.author() {
            push(
                people.of_ref(author),
                Interaction::Updater,
                item.created_at(),
            );
            if mapped("author") {
                push(
                    people.of_ref(author),
                    Interaction::MappedUserField,
                    item.updated_at(),
                );
            }
            if item.description().is_some_and(links_upload) {
                push(
                    people.of_ref(author),
                    Interaction::AttachmentAuthor,
                    item.created_at(),
                );
            }
        }
        for username in mentioned_usernames(item.description().unwrap_or("")) {
            push(
                people.of_username(&username),
                Interaction::Mention,
                item.created_at(),
            );
        }
        for (who, at) in item.changers() {
            push(people.of_ref(who), Interaction::Updater, at);
        }
        if mapped("assignees") {
            for a in item.assignees() {
                push(
                    people.of_ref(a),
                    Interaction::MappedUserField,
                    item.updated_at(),
                );
            }
        }
        if mapped("reviewers") {
            for r in item.reviewers() {
                push(
                    people.of_ref(r),
                    Interaction::MappedUserField,
                    item.updated_at(),
                );
            }
        }
        for note in notes.iter().filter(|n| n.created_at >= notes_since) {
            let Some(author) = &note.author else { continue };
            let body = note.body.as_deref().unwrap_or("");
            if note.system {
                // "assigned to @alee", "changed the description": a change by its author,
                // whose @names are GitLab's wording, not someone's mention.
                push(people.of_ref(author), Interaction::Updater, note.created_at);
                continue;
            }
            push(
                people.of_ref(author),
                Interaction::CommentAuthor,
                note.created_at,
            );
            if links_upload(body) {
                push(
                    people.of_ref(author),
                    Interaction::AttachmentAuthor,
                    note.created_at,
                );
            }
            for username in mentioned_usernames(body) {
                push(
                    people.of_username(&username),
                    Interaction::Mention,
                    note.created_at,
                );
            }
        }
        out.extend(obs.into_records());

        if let (Some(prefix), Some(link_system)) =
            (&self.settings.link_label_prefix, &self.settings.link_system)
        {
            for label in label_names(item.labels()) {
                let Some(key) = label.strip_prefix(prefix.as_str()).map(str::trim) else {
                    continue;
                };
                if key.is_empty() {
                    continue;
                }
                out.push(Record::Sync(SyncRecord {
                    at: item.updated_at(),
                    status: SyncStatus::Success,
                    source: entity.clone(),
                    target: link_target(link_system, self.settings.link_project.as_deref(), key),
                }));
            }
        }
    }

    /// The projects whose uploads are read: the configured ones and every project of the
    /// configured groups (subgroups included).
    async fn upload_projects(
        &self,
        cancel: &CancellationToken,
        scopes: &[Scope],
    ) -> Result<Vec<Project>, ConnectorError> {
        let per_page = self.settings.page_size.to_string();
        let mut projects: Vec<Project> = Vec::new();
        for scope in scopes {
            let found: Vec<Project> = if scope.kind == "projects" {
                let p: Project = self
                    .api
                    .get(cancel, &format!("projects/{}", encode_id(&scope.id)), &[])
                    .await
                    .map_err(|e| self.scope_error(scope, e))?;
                vec![p]
            } else {
                let url = self.api.url(
                    &format!("groups/{}/projects", encode_id(&scope.id)),
                    &[
                        ("include_subgroups", "true"),
                        ("simple", "true"),
                        ("per_page", per_page.as_str()),
                    ],
                )?;
                self.api
                    .all(cancel, url)
                    .await
                    .map_err(|e| self.scope_error(scope, e))?
            };
            for p in found {
                if !projects.iter().any(|k| k.id == p.id) {
                    projects.push(p);
                }
            }
        }
        Ok(projects)
    }

    /// Each project's uploads since its mark. GitLab lists them newest first, so a project
    /// is read until an upload older than the mark, and its mark moves once the project is
    /// done.
    async fn uploads(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
        cursor: &mut Cursor,
        scopes: &[Scope],
    ) -> Result<(), ConnectorError> {
        let projects = self.upload_projects(cancel, scopes).await?;
        let per_page = self.settings.page_size.to_string();
        let mut warned = false;
        for project in projects {
            let key = format!("uploads:{}", project.id);
            let mut mark = cursor.streams.get(&key).cloned().unwrap_or(Mark {
                at: self.lookback_start(),
                ids: Vec::new(),
            });
            let since = mark.at;
            let done: HashSet<u64> = mark.ids.iter().copied().collect();
            let mut next = Some(self.api.url(
                &format!("projects/{}/uploads", project.id),
                &[("per_page", per_page.as_str())],
            )?);
            let mut uploads: Vec<Upload> = Vec::new();
            let mut failed = None;
            while let Some(url) = next {
                match self.api.page::<Upload>(cancel, &url).await {
                    Ok(page) => {
                        let older = page.items.iter().any(|u| u.created_at < since);
                        uploads.extend(
                            page.items
                                .into_iter()
                                .filter(|u| u.created_at >= since && !done.contains(&u.id)),
                        );
                        next = if older { None } else { page.next };
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                // Older servers (before 17.2) have no uploads list; below Maintainer the
                // token may not read it.
                if matches!(e.status(), Some(401 | 403 | 404)) {
                    if !warned {
                        warned = true;
                        ctx.warn(format!(
                            "the uploads of project '{}' could not be listed (GitLab 17.2 or \
                             later and the Maintainer role are needed); uploads are then \
                             found only as links in descriptions and notes: {e}",
                            project.path_with_namespace
                        ))
                        .await?;
                    }
                    continue;
                }
                return Err(e.into());
            }
            if uploads.is_empty() {
                continue;
            }
            let mut records = Vec::new();
            let mut seen = HashSet::new();
            let in_project = EntityRef {
                system: self.system.clone(),
                project: Some(project.path_with_namespace.clone()),
                entity_type: None,
                entity_id: String::new(),
            };
            for u in &uploads {
                mark.advance(u.id, u.created_at);
                let Some(p) = u.uploaded_by.as_ref().and_then(|r| self.people.of_ref(r)) else {
                    continue;
                };
                let who = p.username.clone().unwrap_or_default().to_lowercase();
                if !seen.insert((who, u.created_at)) {
                    continue;
                }
                // An upload belongs to its project, not to an issue the API would name.
                records.push(Record::User(UserObservation {
                    entity_type: None,
                    entity_id: None,
                    ..observation(&in_project, p, Interaction::AttachmentAuthor, u.created_at)
                }));
            }
            ctx.send_batch(records).await?;
            cursor.streams.insert(key, mark);
            ctx.checkpoint(cursor.encode()).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_marks() {
        let t: DateTime<Utc> = "2026-10-01T12:00:00Z".parse().unwrap();
        let mut m = Mark {
            at: t,
            ids: vec![3],
        };
        m.advance(4, t);
        m.advance(5, t - Days::seconds(1));
        assert_eq!(m.ids, vec![3, 4]);
        m.advance(6, t + Days::seconds(1));
        assert_eq!(m.ids, vec![6]);
        let mut c = Cursor::default();
        c.streams.insert("issues:groups:ops".into(), m);
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        assert_eq!(Cursor::parse("yesterday"), None);
        assert_eq!(issue_type_name("test_case"), "Test Case");
        assert_eq!(issue_type_name("objective"), "Objective");
    }
}
