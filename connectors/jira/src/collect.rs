//! One collection run: search the issues changed since the cursor, page by page, turn each
//! into observations and sync records, send them, then checkpoint.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Duration, DurationRound, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_http::links::{link_target, split_keys};
use tally_http::{
    observation, CancellationToken, HttpClient, HttpError, OffsetPager, OffsetPaging, Page,
    TokenPager, TokenPaging, TokenSource,
};
use tally_model::{
    ConnectorContext, ConnectorError, EntityRef, Interaction, Record, SyncRecord, SyncStatus,
};

use crate::directory::{self, DirectoryError};
use crate::people::{mentions, person, text, Mention, Person};
use crate::{time, Flavor, Settings};

/// The saved position: the `updated` of the last issue sent (Jira's own text, so its offset
/// is the account's time zone) and the keys of the issues sent with exactly that time.
/// JQL has minute precision, so the next run asks for that whole minute again and skips
/// these keys: nothing is fetched twice into the store, nothing in the minute is missed.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    updated: String,
    #[serde(default)]
    keys: Vec<String>,
}

impl Cursor {
    fn time(&self) -> Option<DateTime<FixedOffset>> {
        time::parse_str(&self.updated)
    }
}

/// The identity of one issue, read before anything else: without it, an item is skipped.
struct Issue<'a> {
    key: String,
    updated_text: String,
    updated: DateTime<FixedOffset>,
    project: Option<String>,
    entity_type: Option<String>,
    /// The issue object (its `changelog` sits beside `fields`).
    root: &'a Value,
    fields: &'a Value,
}

impl<'a> Issue<'a> {
    fn parse(v: &'a Value) -> Result<Self, String> {
        let key = text(v, "key").ok_or("an issue without a key")?;
        let fields = v
            .get("fields")
            .ok_or(format!("issue {key} has no fields"))?;
        let raw = fields.get("updated").unwrap_or(&Value::Null);
        let updated = time::parse(raw).ok_or(format!(
            "issue {key}: `updated` is missing or not a time ({raw})"
        ))?;
        Ok(Issue {
            updated_text: match raw {
                Value::String(s) => s.trim().to_string(),
                _ => updated.to_rfc3339(),
            },
            key,
            updated,
            project: fields.get("project").and_then(|p| text(p, "key")),
            entity_type: fields.get("issuetype").and_then(|t| text(t, "name")),
            root: v,
            fields,
        })
    }
}

/// The search, as Cloud (`search/jql`, `nextPageToken`) or Data Center (`search`,
/// `startAt`) pages it.
enum Search {
    Cloud(TokenPager),
    DataCenter(OffsetPager),
}

impl Search {
    async fn next(&mut self, cancel: &CancellationToken) -> Result<Option<Page<Value>>, HttpError> {
        match self {
            Search::Cloud(p) => p.next_page(cancel).await,
            Search::DataCenter(p) => p.next_page(cancel).await,
        }
    }

    fn total(&self) -> Option<u64> {
        match self {
            Search::Cloud(_) => None,
            Search::DataCenter(p) => p.total(),
        }
    }
}

/// Reads the user directory (and the organization's users, with `org`) into `account`
/// records. Whatever the servers refuse is a warning naming the right that is missing:
/// the observations are collected all the same.
pub(crate) async fn read_directory(
    ctx: &ConnectorContext,
    client: &HttpClient,
    org: Option<&HttpClient>,
    system: &str,
    s: &Settings,
) -> Result<(), ConnectorError> {
    let cancel = ctx.shutdown().clone();
    let at = Utc::now();
    let org_users = match (org, &s.org_id) {
        (Some(org), Some(id)) => match directory::read_org(org, &cancel, id).await {
            Ok(users) => Some(users),
            Err(e) if e.is_cancelled() => return Err(ConnectorError::Cancelled),
            Err(e) => {
                ctx.warn(format!(
                    "the Atlassian organization API could not be read ({e}); accounts come \
                     from the site's user list alone, without billing, last activity and \
                     products; it needs an organization API key of an organization admin \
                     (scope read:accounts:admin) in {}",
                    s.org_token_env.as_deref().unwrap_or_default()
                ))
                .await?;
                None
            }
        },
        _ => None,
    };
    let listing = match s.flavor {
        Flavor::Cloud => "/rest/api/3/users/search",
        Flavor::DataCenter => "/rest/api/2/user/search",
    };
    match directory::read_site(
        client,
        ctx,
        s.flavor,
        system,
        s.page_size,
        org_users.as_ref(),
        at,
    )
    .await
    {
        Ok(_) => Ok(()),
        Err(DirectoryError::Connector(e)) => Err(e),
        Err(DirectoryError::Http(e)) if e.is_cancelled() => Err(ConnectorError::Cancelled),
        Err(DirectoryError::Http(e)) => {
            ctx.warn(format!(
                "the user directory ({listing}) could not be read completely ({e}); the \
                 accounts read before are kept and observations are still collected; \
                 listing users needs the global permission \"Browse users and groups\""
            ))
            .await
        }
    }
}

pub(crate) struct Collector {
    client: HttpClient,
    system: String,
    flavor: Flavor,
    projects: Vec<String>,
    jql: Option<String>,
    lookback_days: u32,
    mapped_fields: Vec<String>,
    link_field: Option<String>,
    link_system: Option<String>,
    link_project: Option<String>,
    link_url_prefix: Option<String>,
    page_size: u32,
    /// Profiles looked up this run, by `accountId=`/`username=` query: each person is
    /// asked for once per run however often they are mentioned.
    profiles: HashMap<(&'static str, String), Option<Person>>,
    /// Set when the account may not read profiles (403): mentions then keep what the text
    /// says, and the administrator is told once.
    profiles_forbidden: bool,
}

impl Collector {
    pub(crate) fn new(client: HttpClient, system: String, s: &Settings) -> Self {
        Collector {
            client,
            system,
            flavor: s.flavor,
            projects: s.projects.iter().map(|p| p.trim().to_string()).collect(),
            jql: s.jql.clone().filter(|j| !j.trim().is_empty()),
            lookback_days: s.lookback_days,
            mapped_fields: s
                .mapped_fields
                .iter()
                .map(|f| f.trim().to_string())
                .collect(),
            link_field: s.link_field.clone(),
            link_system: s.link_system.clone(),
            link_project: s.link_project.clone(),
            link_url_prefix: s.link_url_prefix.clone(),
            page_size: s.page_size,
            profiles: HashMap::new(),
            profiles_forbidden: false,
        }
    }

    fn api(&self) -> &'static str {
        self.flavor.api()
    }

    fn jql(&self, since: &DateTime<FixedOffset>) -> String {
        let mut parts = Vec::new();
        if !self.projects.is_empty() {
            let keys: Vec<String> = self.projects.iter().map(|p| format!("\"{p}\"")).collect();
            parts.push(format!("project in ({})", keys.join(", ")));
        }
        if let Some(j) = &self.jql {
            parts.push(format!("({})", j.trim()));
        }
        parts.push(format!("updated >= {}", time::jql_literal(since)));
        format!("{} ORDER BY updated ASC", parts.join(" AND "))
    }

    fn fields(&self) -> String {
        let mut fields: Vec<&str> = vec![
            "project",
            "issuetype",
            "created",
            "updated",
            "creator",
            "comment",
            "attachment",
            "description",
        ];
        for f in self.mapped_fields.iter().chain(self.link_field.iter()) {
            if !fields.contains(&f.as_str()) {
                fields.push(f);
            }
        }
        fields.join(",")
    }

    fn search(&self, jql: &str) -> Search {
        let fields = self.fields();
        let size = self.page_size.to_string();
        match self.flavor {
            Flavor::Cloud => Search::Cloud(TokenPager::new(
                &self.client,
                "rest/api/3/search/jql",
                &[
                    ("jql", jql),
                    ("fields", &fields),
                    ("expand", "changelog"),
                    ("maxResults", &size),
                ],
                TokenPaging {
                    token_param: "nextPageToken",
                    source: TokenSource::BodyField("nextPageToken"),
                    items_key: "issues",
                    last_flag: Some("isLast"),
                },
                None,
            )),
            Flavor::DataCenter => Search::DataCenter(OffsetPager::new(
                &self.client,
                "rest/api/2/search",
                &[("jql", jql), ("fields", &fields), ("expand", "changelog")],
                OffsetPaging {
                    page_size: self.page_size,
                    ..OffsetPaging::jira("issues")
                },
            )),
        }
    }

    pub(crate) async fn run(mut self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        let saved = match ctx.cursor() {
            None => None,
            Some(text) => match serde_json::from_str::<Cursor>(text)
                .ok()
                .and_then(|c| c.time().map(|t| (c, t)))
            {
                Some(c) => Some(c),
                None => {
                    ctx.warn(format!(
                        "the saved position ({text:?}) is not one this version understands; \
                         reading the last {} days again",
                        self.lookback_days
                    ))
                    .await?;
                    None
                }
            },
        };
        let since = match &saved {
            Some((_, t)) => *t,
            None => (Utc::now() - Duration::days(i64::from(self.lookback_days))).fixed_offset(),
        };
        // What JQL will actually return starts at the minute; observations older than that
        // were collected by an earlier run (or lie before the look-back).
        let floor = since
            .duration_trunc(Duration::minutes(1))
            .unwrap_or(since)
            .with_timezone(&Utc);
        let jql = self.jql(&since);
        tracing::info!(connector = ctx.name(), %jql, "searching issues");
        let mut search = self.search(&jql);
        let mut next: Option<Cursor> = saved.as_ref().map(|(c, _)| c.clone());
        let mut next_time = saved.as_ref().map(|(_, t)| *t);
        let mut done = 0u64;
        let cancel = ctx.shutdown().clone();
        while let Some(page) = search.next(&cancel).await? {
            let mut records = Vec::new();
            for item in &page.items {
                done += 1;
                let issue = match Issue::parse(item) {
                    Ok(i) => i,
                    Err(why) => {
                        ctx.skipped(format!("{why}; skipped")).await?;
                        continue;
                    }
                };
                if let Some((c, t)) = &saved {
                    if issue.updated < *t || (issue.updated == *t && c.keys.contains(&issue.key)) {
                        continue;
                    }
                }
                self.observe(ctx, &issue, floor, &mut records).await?;
                match next_time {
                    Some(t) if issue.updated < t => {}
                    Some(t) if issue.updated == t => {
                        if let Some(c) = next.as_mut() {
                            if !c.keys.contains(&issue.key) {
                                c.keys.push(issue.key.clone());
                            }
                        }
                    }
                    _ => {
                        next = Some(Cursor {
                            updated: issue.updated_text.clone(),
                            keys: vec![issue.key.clone()],
                        });
                        next_time = Some(issue.updated);
                    }
                }
            }
            ctx.send_batch(records).await?;
            if let Some(c) = &next {
                let text = serde_json::to_string(c)
                    .map_err(|e| ConnectorError::Source(format!("cannot save the cursor: {e}")))?;
                ctx.checkpoint(text).await?;
            }
            ctx.progress(done, search.total()).await?;
        }
        Ok(())
    }

    /// Everything one issue says about people, from `floor` on.
    async fn observe(
        &mut self,
        ctx: &ConnectorContext,
        issue: &Issue<'_>,
        floor: DateTime<Utc>,
        out: &mut Vec<Record>,
    ) -> Result<(), ConnectorError> {
        let f = issue.fields;
        let updated = issue.updated.with_timezone(&Utc);
        let flavor = self.flavor;
        // Owned, so the closure does not hold `self` across the profile look-ups below.
        let entity = EntityRef {
            system: self.system.clone(),
            project: issue.project.clone(),
            entity_type: issue.entity_type.clone(),
            entity_id: issue.key.clone(),
        };
        let emit = |out: &mut Vec<Record>, p: Option<Person>, i: Interaction, at| {
            if let (Some(p), Some(at)) = (p, at) {
                if at >= floor {
                    out.push(Record::User(observation(&entity, p, i, at)));
                }
            }
        };
        let at = |v: Option<&Value>| v.and_then(time::parse).map(|t| t.with_timezone(&Utc));

        // The creator and every changelog author changed the issue.
        emit(
            out,
            f.get("creator").and_then(|u| person(u, flavor)),
            Interaction::Updater,
            at(f.get("created")),
        );
        for h in self.changelog(ctx, issue).await?.iter() {
            emit(
                out,
                h.get("author").and_then(|u| person(u, flavor)),
                Interaction::Updater,
                at(h.get("created")),
            );
        }
        for a in f
            .get("attachment")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            emit(
                out,
                a.get("author").and_then(|u| person(u, flavor)),
                Interaction::AttachmentAuthor,
                at(a.get("created")),
            );
        }
        let mut mentioned: Vec<(Mention, DateTime<Utc>)> = Vec::new();
        for c in self.comments(ctx, issue).await?.iter() {
            let created = at(c.get("created"));
            emit(
                out,
                c.get("author").and_then(|u| person(u, flavor)),
                Interaction::CommentAuthor,
                created,
            );
            if let Some(created) = created.filter(|t| *t >= floor) {
                for m in c.get("body").map(mentions).unwrap_or_default() {
                    mentioned.push((m, created));
                }
            }
        }
        for m in f.get("description").map(mentions).unwrap_or_default() {
            mentioned.push((m, updated));
        }
        // The current values of the mapped user fields, seen at the issue's update.
        for field in &self.mapped_fields {
            let people: Vec<Person> = match f.get(field) {
                Some(Value::Array(list)) => list.iter().filter_map(|u| person(u, flavor)).collect(),
                Some(v) => person(v, flavor).into_iter().collect(),
                None => Vec::new(),
            };
            for p in people {
                emit(out, Some(p), Interaction::MappedUserField, Some(updated));
            }
        }
        for (m, when) in mentioned {
            let p = self.resolve(ctx, &m).await?;
            emit(out, p, Interaction::Mention, Some(when));
        }
        self.links(issue, updated, out);
        Ok(())
    }

    /// The `sync` records of an issue whose link field holds the other side's key(s).
    fn links(&self, issue: &Issue<'_>, at: DateTime<Utc>, out: &mut Vec<Record>) {
        let (Some(field), Some(system)) = (&self.link_field, &self.link_system) else {
            return;
        };
        let mut values = Vec::new();
        if let Some(v) = issue.fields.get(field) {
            link_values(v, &mut values);
        }
        for raw in values {
            let key = match &self.link_url_prefix {
                Some(prefix) => raw.strip_prefix(prefix.as_str()).unwrap_or(&raw),
                None => &raw,
            };
            let key = key
                .split(['?', '#'])
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('/');
            if key.is_empty() {
                continue;
            }
            out.push(Record::Sync(SyncRecord {
                at,
                status: SyncStatus::Success,
                source: EntityRef {
                    system: self.system.clone(),
                    project: issue.project.clone(),
                    entity_type: issue.entity_type.clone(),
                    entity_id: issue.key.clone(),
                },
                target: link_target(system, self.link_project.as_deref(), key),
            }));
        }
    }

    /// The issue's comments: those the search returned (borrowed, not copied), or all of
    /// them when the search returned only the first few.
    async fn comments<'i>(
        &self,
        ctx: &ConnectorContext,
        issue: &Issue<'i>,
    ) -> Result<Cow<'i, [Value]>, ConnectorError> {
        let field = issue.fields.get("comment");
        let (inline, total): (&[Value], _) = match field {
            // The real shape: {"comments": [...], "total": n, ...}.
            Some(Value::Object(o)) => (
                o.get("comments")
                    .and_then(Value::as_array)
                    .map_or(&[], Vec::as_slice),
                o.get("total").and_then(Value::as_u64),
            ),
            // Some published examples show a bare array.
            Some(Value::Array(a)) => (a, None),
            _ => (&[], None),
        };
        if total.is_none_or(|t| t <= inline.len() as u64) {
            return Ok(Cow::Borrowed(inline));
        }
        let path = format!("rest/api/{}/issue/{}/comment", self.api(), issue.key);
        Ok(Cow::Owned(self.all_pages(ctx, &path, "comments").await?))
    }

    /// The issue's changelog histories. Cloud search results carry at most the first 100;
    /// the rest is read from the issue's changelog endpoint. Data Center returns it whole.
    async fn changelog<'i>(
        &self,
        ctx: &ConnectorContext,
        issue: &Issue<'i>,
    ) -> Result<Cow<'i, [Value]>, ConnectorError> {
        let log = issue.root.get("changelog");
        let inline = log
            .and_then(|l| l.get("histories"))
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let total = log.and_then(|l| l.get("total")).and_then(Value::as_u64);
        if self.flavor == Flavor::DataCenter || total.is_none_or(|t| t <= inline.len() as u64) {
            return Ok(Cow::Borrowed(inline));
        }
        let path = format!("rest/api/3/issue/{}/changelog", issue.key);
        Ok(Cow::Owned(self.all_pages(ctx, &path, "values").await?))
    }

    async fn all_pages(
        &self,
        ctx: &ConnectorContext,
        path: &str,
        items_key: &'static str,
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut pager = OffsetPager::new(
            &self.client,
            path,
            &[],
            OffsetPaging {
                page_size: 100,
                ..OffsetPaging::jira(items_key)
            },
        );
        let mut all = Vec::new();
        while let Some(page) = pager.next_page::<Value>(ctx.shutdown()).await? {
            all.extend(page.items);
        }
        Ok(all)
    }

    /// The person behind a mention: their profile, read once per run, or what the mention
    /// itself says when the profile cannot be read.
    async fn resolve(
        &mut self,
        ctx: &ConnectorContext,
        m: &Mention,
    ) -> Result<Option<Person>, ConnectorError> {
        let (param, id, fallback) = match m {
            Mention::AccountId { id, text } => (
                "accountId",
                id,
                text.clone().map(|t| Person {
                    display_name: Some(t),
                    ..Person::default()
                }),
            ),
            Mention::Username(u) => (
                "username",
                u,
                Some(Person {
                    username: Some(u.clone()),
                    ..Person::default()
                }),
            ),
        };
        let cache_key = (param, id.clone());
        if !self.profiles.contains_key(&cache_key) && !self.profiles_forbidden {
            let path = format!("rest/api/{}/user", self.api());
            let found = match self
                .client
                .get_json::<Value>(ctx.shutdown(), &path, &[(param, id.as_str())])
                .await
            {
                Ok(v) => person(&v, self.flavor),
                // Deleted or anonymised people, and ids the server does not know.
                Err(e) if matches!(e.status(), Some(400 | 404 | 410)) => None,
                Err(e) if matches!(e.status(), Some(401 | 403)) => {
                    self.profiles_forbidden = true;
                    ctx.warn(format!(
                        "cannot read user profiles ({e}); mentioned people are reported by \
                         what the mention says (display name or login) only. Grant the \
                         account the global permission \"Browse users and groups\""
                    ))
                    .await?;
                    None
                }
                Err(e) => return Err(e.into()),
            };
            self.profiles.insert(cache_key.clone(), found);
        }
        let found = self.profiles.get(&cache_key).cloned().flatten();
        Ok(match (found, fallback) {
            (Some(mut p), Some(fb)) => {
                // A profile without a login keeps the one the mention named.
                if p.username.is_none() {
                    p.username = fb.username;
                }
                Some(p)
            }
            (found, fallback) => found.or(fallback),
        })
    }
}

/// The values of a link field: text, a number, a select option (`{"value": ...}`), or a
/// list of those.
fn link_values(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => split_keys(s, out),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(list) => list.iter().for_each(|x| link_values(x, out)),
        Value::Object(o) => {
            if let Some(inner) = o.get("value") {
                link_values(inner, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tally_http::links::project_of_key;

    #[test]
    fn link_values_and_keys() {
        let mut v = Vec::new();
        link_values(
            &json!(["4211", 4212, {"value": "4213"}, "4214, 4215"]),
            &mut v,
        );
        assert_eq!(v, ["4211", "4212", "4213", "4214", "4215"]);
        assert_eq!(project_of_key("OPS-17"), Some("OPS"));
        assert_eq!(project_of_key("4211"), None);
        assert_eq!(project_of_key("a-b"), None);
    }
}
