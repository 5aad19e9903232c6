//! One collection run: the directory, then per repository the issues and pull requests
//! changed since the cursor (with their timelines and requested reviewers), the issue
//! comments and the review comments, each page sent before the cursor moves past it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration as Days, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_http::link_paging::{get, LinkPage, LinkPager};
use tally_http::links::link_target;
use tally_http::people::non_empty;
use tally_http::rate_limit::RateLimitGate;
use tally_http::{CancellationToken, HttpClient, HttpError, Person};
use tally_model::{
    ConnectorContext, ConnectorError, EntityRef, Interaction, Record, SyncRecord, SyncStatus,
};

use crate::api::{
    Issue, IssueComment, Profile, Repo, RequestedReviewers, ReviewComment, SimpleUser,
    TimelineEvent,
};
use crate::text::{link_keys, mentioned_logins, Uploads};
use crate::{directory, Settings};

/// Where each listing of each repository stopped: the latest `updated_at` it processed.
/// GitHub's `since` includes that moment, so the next run re-reads the boundary items
/// (the store keeps each record once) rather than missing one updated in the same second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    #[serde(default)]
    pub repos: BTreeMap<String, RepoCursor>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct RepoCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issues: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_comments: Option<DateTime<Utc>>,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        serde_json::from_str(text).ok()
    }

    pub fn encode(&self) -> String {
        // A map of names to timestamps always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stream {
    Issues,
    Comments,
    ReviewComments,
}

impl Stream {
    fn slot(self, c: &mut RepoCursor) -> &mut Option<DateTime<Utc>> {
        match self {
            Stream::Issues => &mut c.issues,
            Stream::Comments => &mut c.comments,
            Stream::ReviewComments => &mut c.review_comments,
        }
    }
}

/// Who a GitHub account is, as far as the token may see. GitHub shows an e-mail address
/// only when the person made one public.
fn person(login: String, name: Option<String>, email: Option<String>, bot: bool) -> Person {
    Person {
        id: None,
        username: Some(login),
        email,
        display_name: name,
        service_account: bot,
    }
}

/// GitHub's placeholder for deleted accounts: nobody to count.
const GHOST: &str = "ghost";

/// The state of one run.
pub(crate) struct Collector<'a> {
    client: HttpClient,
    gate: RateLimitGate,
    system: String,
    settings: &'a Settings,
    uploads: Uploads,
    /// Lower-cased login -> profile (None: no such account).
    profiles: HashMap<String, Option<Profile>>,
    cursor: Cursor,
    done: u64,
    /// (repository, number) -> is a pull request, from the issue listings: comment URLs of
    /// pull requests do not always say so.
    kinds: HashMap<(String, u64), bool>,
}

impl<'a> Collector<'a> {
    pub fn new(
        client: HttpClient,
        system: String,
        settings: &'a Settings,
        web_host: String,
    ) -> Self {
        Collector {
            client,
            gate: RateLimitGate::new(),
            system,
            settings,
            uploads: Uploads::new(&web_host),
            profiles: HashMap::new(),
            cursor: Cursor::default(),
            done: 0,
            kinds: HashMap::new(),
        }
    }

    pub async fn run(mut self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        let cancel = ctx.shutdown().clone();
        if let Some(c) =
            tally_http::cursor::saved(ctx, self.settings.lookback_days, Cursor::parse).await?
        {
            self.cursor = c;
        }
        directory::collect(ctx, &self.client, &self.gate, &self.system, self.settings).await?;
        let window_start = Utc::now() - Days::days(i64::from(self.settings.lookback_days));
        let repos = self.repositories(&cancel).await?;
        for repo in &repos {
            match self.collect_repo(ctx, &cancel, repo, window_start).await {
                Ok(()) => {}
                // A repository that is gone or hidden from this token: say so and go on
                // with the others.
                // 410 Gone: GitHub's answer for issues of a repository that has them
                // turned off.
                Err(RepoError::Http(e)) if e.status() == Some(410) => {
                    ctx.warn(format!(
                        "repository '{repo}' was skipped: {e}; GitHub says its issues are \
                         gone or turned off"
                    ))
                    .await?;
                }
                // A refusal that is a rate limit, after every retry, is no reason to skip
                // a repository: the next one would be refused too.
                Err(RepoError::Http(e))
                    if matches!(e.status(), Some(403 | 404))
                        && !e.to_string().to_lowercase().contains("rate limit") =>
                {
                    ctx.warn(format!(
                        "repository '{repo}' was skipped: {e}; check its name in the \
                         configuration and that the token may read it (for an organisation \
                         with SAML single sign-on, authorise the token for it)"
                    ))
                    .await?;
                }
                Err(RepoError::Http(e)) => return Err(e.into()),
                Err(RepoError::Connector(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// The configured repositories, and every repository of `org` the token can see.
    async fn repositories(
        &self,
        cancel: &CancellationToken,
    ) -> Result<Vec<String>, ConnectorError> {
        let mut repos: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        if let Some(org) = &self.settings.org {
            let org = org.trim();
            let per_page = self.settings.page_size.to_string();
            let mut pager = LinkPager::new(
                &self.client,
                &format!("orgs/{org}/repos"),
                &[
                    ("type", "all"),
                    ("sort", "full_name"),
                    ("per_page", &per_page),
                ],
            )?
            .with_gate(self.gate.clone());
            loop {
                let page: Option<LinkPage<Repo>> =
                    pager
                        .next_page(cancel)
                        .await
                        .map_err(|e| match e.status() {
                            Some(404) => ConnectorError::Config(format!(
                                "connector '{}': organisation '{org}' was not found or is not \
                             visible to this token; `org` takes the name as in \
                             https://github.com/<org> ({e})",
                                self.client.connector()
                            )),
                            _ => e.into(),
                        })?;
                let Some(page) = page else { break };
                for r in page.items {
                    if seen.insert(r.full_name.to_lowercase()) {
                        repos.push(r.full_name);
                    }
                }
            }
        }
        for r in &self.settings.repos {
            let r = r.trim();
            if seen.insert(r.to_lowercase()) {
                repos.push(r.to_string());
            }
        }
        Ok(repos)
    }

    async fn collect_repo(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
        repo: &str,
        window_start: DateTime<Utc>,
    ) -> Result<(), RepoError> {
        for stream in [Stream::Issues, Stream::Comments, Stream::ReviewComments] {
            let since = self
                .cursor
                .repos
                .get(repo)
                .and_then(|c| match stream {
                    Stream::Issues => c.issues,
                    Stream::Comments => c.comments,
                    Stream::ReviewComments => c.review_comments,
                })
                .unwrap_or(window_start);
            let since_text = since.to_rfc3339_opts(SecondsFormat::Secs, true);
            let per_page = self.settings.page_size.to_string();
            let (path, state) = match stream {
                Stream::Issues => (format!("repos/{repo}/issues"), Some(("state", "all"))),
                Stream::Comments => (format!("repos/{repo}/issues/comments"), None),
                Stream::ReviewComments => (format!("repos/{repo}/pulls/comments"), None),
            };
            let mut query = vec![
                ("sort", "updated"),
                ("direction", "asc"),
                ("since", since_text.as_str()),
                ("per_page", per_page.as_str()),
            ];
            query.extend(state);
            let mut pager =
                LinkPager::new(&self.client, &path, &query)?.with_gate(self.gate.clone());
            loop {
                let mut records = Vec::new();
                self.announce_wait(ctx).await?;
                let (latest, items) = match stream {
                    Stream::Issues => {
                        let Some(page) = pager.next_page::<Issue>(cancel).await? else {
                            break;
                        };
                        for issue in &page.items {
                            self.issue_records(cancel, repo, issue, since, &mut records)
                                .await?;
                        }
                        (
                            page.items.iter().map(|i| i.updated_at).max(),
                            page.items.len(),
                        )
                    }
                    Stream::Comments => {
                        let Some(page) = pager.next_page::<IssueComment>(cancel).await? else {
                            break;
                        };
                        for c in &page.items {
                            self.comment_records(cancel, repo, c, &mut records).await?;
                        }
                        (
                            page.items.iter().map(|c| c.updated_at).max(),
                            page.items.len(),
                        )
                    }
                    Stream::ReviewComments => {
                        let Some(page) = pager.next_page::<ReviewComment>(cancel).await? else {
                            break;
                        };
                        for c in &page.items {
                            self.review_comment_records(cancel, repo, c, &mut records)
                                .await?;
                        }
                        (
                            page.items.iter().map(|c| c.updated_at).max(),
                            page.items.len(),
                        )
                    }
                };
                ctx.send_batch(records).await?;
                if let Some(latest) = latest {
                    let slot = stream.slot(self.cursor.repos.entry(repo.to_string()).or_default());
                    if slot.is_none_or(|s| latest > s) {
                        *slot = Some(latest);
                    }
                    // Only after this page's records are on their way to the store.
                    ctx.checkpoint(self.cursor.encode()).await?;
                }
                self.done += items as u64;
                ctx.progress(self.done, None).await?;
            }
        }
        Ok(())
    }

    /// Tells the administrator when the rate limit's quota is used up and the run waits
    /// for its reset (up to an hour on github.com), so a pause is not mistaken for a hang.
    async fn announce_wait(&self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        if let Some(wait) = self.gate.pending(Utc::now()) {
            if wait.as_secs() >= 10 {
                ctx.warn(format!(
                    "GitHub's rate limit for this token is used up; waiting {} s for it to \
                     reset (other integrations using the same token share the quota)",
                    wait.as_secs()
                ))
                .await?;
            }
        }
        Ok(())
    }

    fn entity(&self, repo: &str, number: u64, pull: bool) -> EntityRef {
        EntityRef {
            system: self.system.clone(),
            project: Some(repo.to_string()),
            entity_type: Some(if pull { "Pull request" } else { "Issue" }.to_string()),
            entity_id: number.to_string(),
        }
    }

    async fn issue_records(
        &mut self,
        cancel: &CancellationToken,
        repo: &str,
        issue: &Issue,
        since: DateTime<Utc>,
        out: &mut Vec<Record>,
    ) -> Result<(), HttpError> {
        let pull = issue.is_pull_request();
        self.kinds.insert((repo.to_string(), issue.number), pull);
        let entity = self.entity(repo, issue.number, pull);
        let mut obs = Observations::new(&entity);
        let app = is_app(&issue.performed_via_github_app);
        if let Some(author) = &issue.user {
            obs.user(author, Interaction::Updater, issue.created_at, app);
            self.body(
                &mut obs,
                author,
                issue.body.as_deref(),
                issue.created_at,
                app,
            );
        }
        let mut assignees: Vec<&SimpleUser> = issue.assignees.iter().flatten().collect();
        assignees.extend(issue.assignee.as_ref());
        for a in assignees {
            obs.user(a, Interaction::MappedUserField, issue.updated_at, false);
        }
        if pull {
            let path = format!("repos/{repo}/pulls/{}/requested_reviewers", issue.number);
            let reviewers = match self.get_json::<RequestedReviewers>(cancel, &path).await {
                Ok(r) => r.users,
                // Deleted or moved since it was listed.
                Err(e) if gone(&e) => Vec::new(),
                Err(e) => return Err(e),
            };
            for r in &reviewers {
                obs.user(r, Interaction::MappedUserField, issue.updated_at, false);
            }
        }
        // Changers: the timeline entries since the listing's `since` (earlier ones were
        // read by an earlier run, or lie before the look-back).
        let per_page = self.settings.page_size.to_string();
        let mut pager = LinkPager::new(
            &self.client,
            &format!("repos/{repo}/issues/{}/timeline", issue.number),
            &[("per_page", &per_page)],
        )?
        .with_gate(self.gate.clone());
        loop {
            let page = match pager.next_page::<TimelineEvent>(cancel).await {
                Ok(Some(page)) => page,
                Ok(None) => break,
                Err(e) if gone(&e) => break,
                Err(e) => return Err(e),
            };
            for event in &page.items {
                self.timeline_event(&mut obs, event, since);
            }
        }
        if let (Some(prefix), Some(link_system)) =
            (&self.settings.link_prefix, &self.settings.link_system)
        {
            for key in link_keys(prefix, issue.body.as_deref(), &issue.label_names()) {
                out.push(Record::Sync(SyncRecord {
                    at: issue.updated_at,
                    status: SyncStatus::Success,
                    source: entity.clone(),
                    target: link_target(link_system, self.settings.link_project.as_deref(), &key),
                }));
            }
        }
        self.finish(cancel, obs, out).await
    }

    fn timeline_event(&self, obs: &mut Observations, event: &TimelineEvent, since: DateTime<Utc>) {
        let kind = event.event.as_deref().unwrap_or("");
        let app = is_app(&event.performed_via_github_app);
        match kind {
            // Read from the comment listings, which have `since`.
            "commented" | "line-commented" | "commit-commented" => {}
            "reviewed" => {
                let (Some(user), Some(at)) = (&event.user, event.submitted_at.or(event.created_at))
                else {
                    return;
                };
                if at < since {
                    return;
                }
                let body = event.body.as_deref().unwrap_or("").trim();
                let how = if body.is_empty() {
                    Interaction::Updater
                } else {
                    Interaction::CommentAuthor
                };
                obs.user(user, how, at, app);
                self.body(obs, user, Some(body), at, app);
            }
            // Not a change by the actor: `mentioned`/`subscribed` name the person mentioned
            // or subscribed; references come from other issues or from commits; commits
            // carry git identities, not accounts.
            "mentioned" | "subscribed" | "unsubscribed" | "referenced" | "cross-referenced"
            | "committed" => {}
            _ => {
                if let (Some(actor), Some(at)) = (&event.actor, event.created_at) {
                    if at >= since {
                        obs.user(actor, Interaction::Updater, at, app);
                    }
                }
            }
        }
    }

    /// Mentions and uploads in a body written by `author` at `at`.
    fn body(
        &self,
        obs: &mut Observations,
        author: &SimpleUser,
        body: Option<&str>,
        at: DateTime<Utc>,
        app: bool,
    ) {
        let Some(body) = body else { return };
        if self.uploads.any_in(body) {
            obs.user(author, Interaction::AttachmentAuthor, at, app);
        }
        for login in mentioned_logins(body) {
            obs.mention(login, at);
        }
    }

    async fn comment_records(
        &mut self,
        cancel: &CancellationToken,
        repo: &str,
        c: &IssueComment,
        out: &mut Vec<Record>,
    ) -> Result<(), HttpError> {
        let Some(number) = last_number(&c.issue_url) else {
            return Ok(());
        };
        let pull = match self.kinds.get(&(repo.to_string(), number)) {
            Some(known) => *known,
            None => c.html_url.as_deref().is_some_and(|u| u.contains("/pull/")),
        };
        let entity = self.entity(repo, number, pull);
        let mut obs = Observations::new(&entity);
        if let Some(user) = &c.user {
            let app = is_app(&c.performed_via_github_app);
            obs.user(user, Interaction::CommentAuthor, c.created_at, app);
            self.body(&mut obs, user, c.body.as_deref(), c.created_at, app);
        }
        self.finish(cancel, obs, out).await
    }

    async fn review_comment_records(
        &mut self,
        cancel: &CancellationToken,
        repo: &str,
        c: &ReviewComment,
        out: &mut Vec<Record>,
    ) -> Result<(), HttpError> {
        let Some(number) = last_number(&c.pull_request_url) else {
            return Ok(());
        };
        let entity = self.entity(repo, number, true);
        let mut obs = Observations::new(&entity);
        if let Some(user) = &c.user {
            obs.user(user, Interaction::CommentAuthor, c.created_at, false);
            self.body(&mut obs, user, c.body.as_deref(), c.created_at, false);
        }
        self.finish(cancel, obs, out).await
    }

    /// Resolves the gathered people to observations.
    async fn finish(
        &mut self,
        cancel: &CancellationToken,
        obs: Observations,
        out: &mut Vec<Record>,
    ) -> Result<(), HttpError> {
        // One observation per person, interaction and moment within an entity: assignee
        // and requested reviewer at once is one mapped-field observation.
        let mut emitted = tally_http::Observations::new(&obs.entity);
        for (user, interaction, at, app) in obs.users {
            // Deleted accounts, and organisations (the actor of some events), are nobody
            // to count.
            if user.login.eq_ignore_ascii_case(GHOST)
                || user.kind.as_deref() == Some("Organization")
            {
                continue;
            }
            let bot = user.is_bot();
            let profile = if bot {
                None
            } else {
                self.profile(cancel, &user.login).await?
            };
            let person = person(
                user.login.clone(),
                profile
                    .as_ref()
                    .and_then(|p| non_empty(p.name.as_deref()))
                    .or_else(|| non_empty(user.name.as_deref())),
                profile
                    .as_ref()
                    .and_then(|p| non_empty(p.email.as_deref()))
                    .or_else(|| non_empty(user.email.as_deref())),
                bot || app,
            );
            emitted.push(person, interaction, at);
        }
        for (login, at) in obs.mentions {
            if login.eq_ignore_ascii_case(GHOST) {
                continue;
            }
            let person = if self.settings.profiles {
                // A mention of a login no account has (`@media`), or of an organisation,
                // notifies nobody.
                match self.profile(cancel, &login).await? {
                    Some(p) if matches!(p.kind.as_deref(), None | Some("User") | Some("Bot")) => {
                        person(
                            p.login.clone(),
                            non_empty(p.name.as_deref()),
                            non_empty(p.email.as_deref()),
                            p.kind.as_deref() == Some("Bot"),
                        )
                    }
                    _ => continue,
                }
            } else {
                person(login, None, None, false)
            };
            emitted.push(person, Interaction::Mention, at);
        }
        out.extend(emitted.into_records());
        Ok(())
    }

    /// The public profile of `login`, once per run; `None` when there is no such account
    /// (or profiles are off).
    async fn profile(
        &mut self,
        cancel: &CancellationToken,
        login: &str,
    ) -> Result<Option<Profile>, HttpError> {
        if !self.settings.profiles {
            return Ok(None);
        }
        let key = login.to_lowercase();
        if let Some(p) = self.profiles.get(&key) {
            return Ok(p.clone());
        }
        let got = match self
            .get_json::<Profile>(cancel, &format!("users/{login}"))
            .await
        {
            Ok(p) => Some(p),
            Err(e) if matches!(e.status(), Some(404 | 403)) => None,
            Err(e) => return Err(e),
        };
        self.profiles.insert(key, got.clone());
        Ok(got)
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        cancel: &CancellationToken,
        path: &str,
    ) -> Result<T, HttpError> {
        get_json(&self.client, &self.gate, cancel, path).await
    }
}

/// GET `path` through the rate-limit gate and parse the JSON body.
pub(crate) async fn get_json<T: DeserializeOwned>(
    client: &HttpClient,
    gate: &RateLimitGate,
    cancel: &CancellationToken,
    path: &str,
) -> Result<T, HttpError> {
    let url = client.url(path, &[])?;
    let (_, body) = get(client, Some(gate), cancel, &url).await?;
    serde_json::from_slice(&body).map_err(|e| HttpError::Json {
        connector: client.connector().to_string(),
        url: tally_http::redact_url(&url),
        detail: e.to_string(),
    })
}

/// The people of one entity, before their profiles are looked up.
struct Observations {
    entity: EntityRef,
    users: Vec<(SimpleUser, Interaction, DateTime<Utc>, bool)>,
    mentions: Vec<(String, DateTime<Utc>)>,
}

impl Observations {
    fn new(entity: &EntityRef) -> Self {
        Observations {
            entity: entity.clone(),
            users: Vec::new(),
            mentions: Vec::new(),
        }
    }

    /// `app`: the action was performed through a GitHub App.
    fn user(&mut self, user: &SimpleUser, how: Interaction, at: DateTime<Utc>, app: bool) {
        self.users.push((user.clone(), how, at, app));
    }

    fn mention(&mut self, login: String, at: DateTime<Utc>) {
        self.mentions.push((login, at));
    }
}

/// An issue deleted or transferred since it was listed (404, 410).
fn gone(e: &HttpError) -> bool {
    matches!(e.status(), Some(404 | 410))
}

fn is_app(v: &Option<Value>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_null())
}

/// The issue or pull-request number at the end of an API URL
/// (`…/repos/o/r/issues/1347`, `…/pulls/1347`).
fn last_number(url: &str) -> Option<u64> {
    url.trim_end_matches('/').rsplit('/').next()?.parse().ok()
}

/// Why one repository's collection stopped.
enum RepoError {
    Http(HttpError),
    Connector(ConnectorError),
}

impl From<HttpError> for RepoError {
    fn from(e: HttpError) -> Self {
        RepoError::Http(e)
    }
}

impl From<ConnectorError> for RepoError {
    fn from(e: ConnectorError) -> Self {
        RepoError::Connector(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let mut c = Cursor::default();
        c.repos.insert(
            "octo-org/app".into(),
            RepoCursor {
                issues: Some("2026-10-01T12:00:00Z".parse().unwrap()),
                comments: None,
                review_comments: Some("2026-10-02T12:00:00Z".parse().unwrap()),
            },
        );
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        assert_eq!(Cursor::parse("yesterday"), None);
    }

    #[test]
    fn numbers_from_api_urls() {
        assert_eq!(
            last_number("https://api.github.com/repos/octocat/Hello-World/issues/1347"),
            Some(1347)
        );
        assert_eq!(
            last_number("https://api.github.com/repos/octocat/Hello-World/pulls/1/"),
            Some(1)
        );
        assert_eq!(
            last_number("https://api.github.com/repos/octocat/Hello-World"),
            None
        );
    }
}
