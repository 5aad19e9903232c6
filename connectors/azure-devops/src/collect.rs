//! One collection run: per project (or for the whole organization), walk the reporting
//! revisions from the saved watermark, page by page; for the work items a page touched,
//! read their updates and comments concurrently; send the page's records, then save the
//! page's continuation token.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tally_http::links::{link_target, split_keys};
use tally_http::{CancellationToken, HttpClient, TokenPager, TokenPaging, TokenSource, Url};
use tally_model::{
    ConnectorContext, ConnectorError, EntityRef, Interaction, Record, SyncRecord, SyncStatus,
};
use tokio::task::JoinSet;

use crate::identity::{from_identity, html_mentions, person, NameRules, Person};
use crate::Settings;

/// The stream key of an organization-wide walk (no `projects` configured).
const ALL: &str = "*";

/// Work item updates per request (the API's maximum).
const UPDATES_PAGE: usize = 200;

/// The saved position: the continuation token (watermark) of each project's revision walk.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Cursor {
    tokens: BTreeMap<String, String>,
}

/// What the connector knows of one work item from a page of revisions.
#[derive(Debug, Clone)]
struct Item {
    id: u64,
    project: Option<String>,
    entity_type: Option<String>,
    /// The first revision in this page: older updates were read by an earlier page or run.
    min_rev: u64,
    first_changed: DateTime<Utc>,
    last_changed: DateTime<Utc>,
}

/// What reading a work item's updates and comments found.
#[derive(Default)]
struct Details {
    records: Vec<Record>,
    /// (identity id, display name shown, when, where) of each @mention.
    mentions: Vec<(String, Option<String>, DateTime<Utc>, Item)>,
    comments_unavailable: Option<String>,
}

/// The settings every task needs, shared without copying.
struct Shared {
    client: HttpClient,
    system: String,
    api_version: String,
    rules: NameRules,
    mapped_fields: Vec<String>,
    comments: bool,
    updates: bool,
    link_field: Option<String>,
    link_url_prefix: Option<String>,
    link_system: Option<String>,
    link_project: Option<String>,
}

pub(crate) struct Collector {
    shared: Arc<Shared>,
    identities: HttpClient,
    projects: Vec<String>,
    lookback_days: u32,
    /// Mentioned identities looked up this run, by id: each person is asked for once.
    profiles: HashMap<String, Option<Person>>,
    profiles_forbidden: bool,
    comments_off: bool,
}

impl Collector {
    pub(crate) fn new(
        client: HttpClient,
        identities: HttpClient,
        system: String,
        s: &Settings,
    ) -> Self {
        Collector {
            shared: Arc::new(Shared {
                client,
                system,
                api_version: s.api_version.clone(),
                rules: NameRules {
                    keep_domain: s.keep_domain,
                },
                mapped_fields: s
                    .mapped_fields
                    .iter()
                    .map(|f| f.trim().to_string())
                    .collect(),
                comments: s.comments,
                updates: s.updates,
                link_field: s.link_field.clone(),
                link_url_prefix: s.link_url_prefix.clone(),
                link_system: s.link_system.clone(),
                link_project: s.link_project.clone(),
            }),
            identities,
            projects: s.projects.iter().map(|p| p.trim().to_string()).collect(),
            lookback_days: s.lookback_days,
            profiles: HashMap::new(),
            profiles_forbidden: false,
            comments_off: false,
        }
    }

    pub(crate) async fn run(mut self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        let mut cursor = match ctx.cursor() {
            None => Cursor::default(),
            Some(text) => match serde_json::from_str::<Cursor>(text) {
                Ok(c) => c,
                Err(_) => {
                    ctx.warn(format!(
                        "the saved position ({text:?}) is not one this version understands; \
                         reading the last {} days again",
                        self.lookback_days
                    ))
                    .await?;
                    Cursor::default()
                }
            },
        };
        let streams: Vec<String> = if self.projects.is_empty() {
            vec![ALL.to_string()]
        } else {
            self.projects.clone()
        };
        let start = (Utc::now() - Duration::days(i64::from(self.lookback_days)))
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut done = 0u64;
        for stream in streams {
            let path = if stream == ALL {
                "_apis/wit/reporting/workitemrevisions".to_string()
            } else {
                format!("{stream}/_apis/wit/reporting/workitemrevisions")
            };
            let mut token = cursor.tokens.get(&stream).cloned();
            loop {
                let page = self.revisions(ctx, &path, token.as_deref(), &start).await?;
                done += page.values.len() as u64;
                let records = self.page_records(ctx, &page.values).await?;
                ctx.send_batch(records).await?;
                let repeated = page.token.is_some() && page.token == token;
                if let Some(t) = page.token.clone() {
                    token = Some(t.clone());
                    cursor.tokens.insert(stream.clone(), t);
                    let text = serde_json::to_string(&cursor).map_err(|e| {
                        ConnectorError::Source(format!("cannot save the cursor: {e}"))
                    })?;
                    ctx.checkpoint(text).await?;
                }
                ctx.progress(done, None).await?;
                if page.last || page.token.is_none() || repeated {
                    break;
                }
            }
        }
        Ok(())
    }

    /// One page of revisions: from `token`, or from `start` on the first run.
    async fn revisions(
        &self,
        ctx: &ConnectorContext,
        path: &str,
        token: Option<&str>,
        start: &str,
    ) -> Result<RevisionPage, ConnectorError> {
        let s = &self.shared;
        let mut fields = vec![
            "System.Id",
            "System.Rev",
            "System.TeamProject",
            "System.WorkItemType",
            "System.CreatedBy",
            "System.CreatedDate",
            "System.ChangedBy",
            "System.ChangedDate",
        ];
        for f in s.mapped_fields.iter().chain(s.link_field.iter()) {
            if !fields.contains(&f.as_str()) {
                fields.push(f);
            }
        }
        let fields = fields.join(",");
        let mut query = vec![
            ("includeIdentityRef", "true"),
            ("fields", fields.as_str()),
            ("api-version", s.api_version.as_str()),
        ];
        match token {
            Some(t) => query.push(("continuationToken", t)),
            None => query.push(("startDateTime", start)),
        }
        let mut body: Value = s.client.get_json(ctx.shutdown(), path, &query).await?;
        let values = match body.get_mut("values").map(Value::take) {
            Some(Value::Array(v)) => v,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                return Err(ConnectorError::Source(format!(
                    "connector '{}': {path}: \"values\" is not a list; check that url is the \
                     organization or collection URL",
                    ctx.name()
                )))
            }
        };
        // The token is a field on newer versions; older ones only put it in `nextLink`.
        let token = body
            .get("continuationToken")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                let link = body.get("nextLink").and_then(Value::as_str)?;
                let url = Url::parse(link).ok()?;
                let t = url
                    .query_pairs()
                    .find(|(k, _)| k.eq_ignore_ascii_case("continuationToken"))?
                    .1
                    .into_owned();
                Some(t)
            })
            .filter(|t| !t.is_empty());
        Ok(RevisionPage {
            values,
            token,
            last: body
                .get("isLastBatch")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        })
    }

    /// The records of one page of revisions, with the updates and comments of the work
    /// items it touched.
    async fn page_records(
        &mut self,
        ctx: &ConnectorContext,
        revisions: &[Value],
    ) -> Result<Vec<Record>, ConnectorError> {
        let s = Arc::clone(&self.shared);
        let mut out = Vec::new();
        let mut items: BTreeMap<u64, Item> = BTreeMap::new();
        for rev in revisions {
            let Some(f) = rev.get("fields") else {
                ctx.skipped("a revision without fields; skipped").await?;
                continue;
            };
            let id = rev
                .get("id")
                .and_then(Value::as_u64)
                .or_else(|| f.get("System.Id").and_then(Value::as_u64));
            let changed = date(f.get("System.ChangedDate"));
            let (Some(id), Some(changed)) = (id, changed) else {
                ctx.skipped(format!(
                    "a revision without an id or System.ChangedDate ({}); skipped",
                    rev.get("id").unwrap_or(&Value::Null)
                ))
                .await?;
                continue;
            };
            let number = rev
                .get("rev")
                .and_then(Value::as_u64)
                .or_else(|| f.get("System.Rev").and_then(Value::as_u64))
                .unwrap_or(0);
            let item = Item {
                id,
                project: text(f.get("System.TeamProject")),
                entity_type: text(f.get("System.WorkItemType")),
                min_rev: number,
                first_changed: changed,
                last_changed: changed,
            };
            let mut emit = |p: Option<Person>, i: Interaction, at: DateTime<Utc>| {
                if let Some(p) = p {
                    out.push(observation(&s.system, &item, p, i, at));
                }
            };
            emit(
                f.get("System.ChangedBy").and_then(|v| person(v, s.rules)),
                Interaction::Updater,
                changed,
            );
            if number == 1 {
                emit(
                    f.get("System.CreatedBy").and_then(|v| person(v, s.rules)),
                    Interaction::Updater,
                    date(f.get("System.CreatedDate")).unwrap_or(changed),
                );
            }
            for field in &s.mapped_fields {
                emit(
                    f.get(field).and_then(|v| person(v, s.rules)),
                    Interaction::MappedUserField,
                    changed,
                );
            }
            if let Some(field) = &s.link_field {
                let mut keys = Vec::new();
                if let Some(v) = f.get(field) {
                    link_values(v, &mut keys);
                }
                for key in keys {
                    if let Some(r) = sync(&s, &item, &key, changed) {
                        out.push(r);
                    }
                }
            }
            items
                .entry(id)
                .and_modify(|it| {
                    it.min_rev = it.min_rev.min(item.min_rev);
                    it.first_changed = it.first_changed.min(changed);
                    if changed >= it.last_changed {
                        it.last_changed = changed;
                        it.project = item.project.clone().or(it.project.take());
                        it.entity_type = item.entity_type.clone().or(it.entity_type.take());
                    }
                })
                .or_insert(item);
        }
        if !s.updates && (!s.comments || self.comments_off) {
            return Ok(out);
        }
        // Each work item's updates and comments, a few at a time (the client's concurrency
        // limit bounds the requests in flight).
        let mut tasks = JoinSet::new();
        for item in items.into_values() {
            let s = Arc::clone(&s);
            let cancel = ctx.shutdown().clone();
            let comments = s.comments && !self.comments_off;
            tasks.spawn(async move { details(&s, &cancel, item, comments).await });
        }
        let mut mentions = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let d = joined
                .map_err(|e| ConnectorError::Source(format!("a work item task failed: {e}")))??;
            out.extend(d.records);
            mentions.extend(d.mentions);
            if let Some(why) = d.comments_unavailable {
                if !self.comments_off {
                    self.comments_off = true;
                    ctx.warn(why).await?;
                }
            }
        }
        for (id, label, at, item) in mentions {
            if let Some(p) = self.resolve(ctx, &id, label).await? {
                out.push(observation(&s.system, &item, p, Interaction::Mention, at));
            }
        }
        Ok(out)
    }

    /// The person behind a mention: their identity, read once per run, or the display
    /// name the comment shows when the identity cannot be read.
    async fn resolve(
        &mut self,
        ctx: &ConnectorContext,
        id: &str,
        label: Option<String>,
    ) -> Result<Option<Person>, ConnectorError> {
        if !self.profiles.contains_key(id) && !self.profiles_forbidden {
            let version = self.shared.api_version.clone();
            let found = match self
                .identities
                .get_json::<Value>(
                    ctx.shutdown(),
                    "_apis/identities",
                    &[("identityIds", id), ("api-version", &version)],
                )
                .await
            {
                Ok(v) => v.get("value").and_then(Value::as_array).and_then(|l| {
                    l.iter()
                        .flat_map(|i| from_identity(i, self.shared.rules))
                        .next()
                }),
                Err(e) if matches!(e.status(), Some(400 | 404)) => None,
                Err(e) if matches!(e.status(), Some(401 | 403)) => {
                    self.profiles_forbidden = true;
                    ctx.warn(format!(
                        "cannot read identities ({e}); mentioned people are reported by the \
                         display name the comment shows. Give the token the scope Identity \
                         (Read), vso.identity"
                    ))
                    .await?;
                    None
                }
                Err(e) => return Err(e.into()),
            };
            self.profiles.insert(id.to_string(), found);
        }
        Ok(self.profiles.get(id).cloned().flatten().or_else(|| {
            label.map(|l| Person {
                display_name: Some(l),
                ..Person::default()
            })
        }))
    }
}

struct RevisionPage {
    values: Vec<Value>,
    token: Option<String>,
    last: bool,
}

/// Reads one work item's updates (attachments, hyperlinks) and comments.
async fn details(
    s: &Shared,
    cancel: &CancellationToken,
    item: Item,
    comments: bool,
) -> Result<Details, ConnectorError> {
    let mut d = Details::default();
    if s.updates {
        read_updates(s, cancel, &item, &mut d).await?;
    }
    if comments {
        if let Some(project) = &item.project {
            read_comments(s, cancel, &item, project, &mut d).await?;
        }
    }
    Ok(d)
}

async fn read_updates(
    s: &Shared,
    cancel: &CancellationToken,
    item: &Item,
    d: &mut Details,
) -> Result<(), ConnectorError> {
    let path = format!("_apis/wit/workItems/{}/updates", item.id);
    let top = UPDATES_PAGE.to_string();
    // Hyperlinks and remote links as of the latest update: (url -> present).
    let mut links: BTreeMap<String, bool> = BTreeMap::new();
    let mut skip = 0usize;
    loop {
        let skip_text = skip.to_string();
        let body: Value = s
            .client
            .get_json(
                cancel,
                &path,
                &[
                    ("$top", top.as_str()),
                    ("$skip", skip_text.as_str()),
                    ("api-version", s.api_version.as_str()),
                ],
            )
            .await?;
        let updates = body
            .get("value")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for u in &updates {
            let rev = u.get("rev").and_then(Value::as_u64).unwrap_or(0);
            let relations = u.get("relations");
            let list = |kind: &str| {
                relations
                    .and_then(|r| r.get(kind))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            };
            for r in list("added") {
                let rel = r.get("rel").and_then(Value::as_str).unwrap_or("");
                if is_link(rel) {
                    if let Some(url) = text(r.get("url")) {
                        links.insert(url, true);
                    }
                } else if rel == "AttachedFile" && rev >= item.min_rev {
                    // When it was attached: the relation's own date, else the update's.
                    let at = date(r.get("attributes").and_then(|a| a.get("authorizedDate")))
                        .or_else(|| {
                            date(
                                u.get("fields")
                                    .and_then(|f| f.get("System.ChangedDate"))
                                    .and_then(|c| c.get("newValue")),
                            )
                        })
                        .unwrap_or(item.last_changed);
                    if let Some(p) = u.get("revisedBy").and_then(|v| person(v, s.rules)) {
                        d.records.push(observation(
                            &s.system,
                            item,
                            p,
                            Interaction::AttachmentAuthor,
                            at,
                        ));
                    }
                }
            }
            for r in list("removed") {
                if is_link(r.get("rel").and_then(Value::as_str).unwrap_or("")) {
                    if let Some(url) = text(r.get("url")) {
                        links.insert(url, false);
                    }
                }
            }
        }
        if updates.len() < UPDATES_PAGE {
            break;
        }
        skip += updates.len();
    }
    if let Some(prefix) = &s.link_url_prefix {
        for (url, present) in links {
            let Some(rest) = url.strip_prefix(prefix.as_str()) else {
                continue;
            };
            let key = rest
                .split(['?', '#'])
                .next()
                .unwrap_or("")
                .trim_matches('/');
            if present && !key.is_empty() {
                if let Some(r) = sync(s, item, key, item.last_changed) {
                    d.records.push(r);
                }
            }
        }
    }
    Ok(())
}

fn is_link(rel: &str) -> bool {
    rel == "Hyperlink" || rel.starts_with("System.LinkTypes.Remote")
}

async fn read_comments(
    s: &Shared,
    cancel: &CancellationToken,
    item: &Item,
    project: &str,
    d: &mut Details,
) -> Result<(), ConnectorError> {
    // The comments API is a preview resource in every version (7.1-preview.4 is current;
    // preview.3 is served by 5.1 and later).
    let version = format!("{}-preview.3", s.api_version);
    let path = format!("{project}/_apis/wit/workItems/{}/comments", item.id);
    let mut pager = TokenPager::new(
        &s.client,
        &path,
        &[("$top", "200"), ("api-version", &version)],
        TokenPaging {
            token_param: "continuationToken",
            source: TokenSource::BodyField("continuationToken"),
            items_key: "comments",
            last_flag: None,
        },
        None,
    );
    // A comment makes a revision at the same moment; a minute's slack covers clock
    // rounding between the two.
    let since = item.first_changed - Duration::minutes(1);
    loop {
        let page = match pager.next_page::<Value>(cancel).await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // Server 2019 has no comments API.
            Err(e) if matches!(e.status(), Some(400 | 404)) => {
                d.comments_unavailable = Some(format!(
                    "work item comments cannot be read ({e}); comment authors and mentions \
                     are left out. Set api_version to the server's version (5.1 or later) or \
                     comments = false"
                ));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        for c in &page.items {
            if c.get("isDeleted").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let Some(created) = date(c.get("createdDate")) else {
                continue;
            };
            if created < since {
                continue;
            }
            if let Some(p) = c.get("createdBy").and_then(|v| person(v, s.rules)) {
                d.records.push(observation(
                    &s.system,
                    item,
                    p,
                    Interaction::CommentAuthor,
                    created,
                ));
            }
            let html = c.get("text").and_then(Value::as_str).unwrap_or("");
            for (id, label) in html_mentions(html) {
                d.mentions.push((id, label, created, item.clone()));
            }
        }
    }
    Ok(())
}

fn observation(
    system: &str,
    item: &Item,
    p: Person,
    interaction: Interaction,
    at: DateTime<Utc>,
) -> Record {
    let entity = EntityRef {
        system: system.to_string(),
        project: item.project.clone(),
        entity_type: item.entity_type.clone(),
        entity_id: item.id.to_string(),
    };
    Record::User(tally_http::observation(&entity, p, interaction, at))
}

fn sync(s: &Shared, item: &Item, key: &str, at: DateTime<Utc>) -> Option<Record> {
    let system = s.link_system.as_ref()?;
    let key = key.trim();
    if key.is_empty() {
        return None;
    }
    Some(Record::Sync(SyncRecord {
        at,
        status: SyncStatus::Success,
        source: EntityRef {
            system: s.system.clone(),
            project: item.project.clone(),
            entity_type: item.entity_type.clone(),
            entity_id: item.id.to_string(),
        },
        target: link_target(system, s.link_project.as_deref(), key),
    }))
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn date(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(v?.as_str()?.trim()).ok()?;
    let t = t.with_timezone(&Utc);
    // 9999-01-01 marks "not revised yet", never a moment something happened.
    (t.format("%Y").to_string() != "9999").then_some(t)
}

/// The values of a link field: text (possibly several keys separated by `,` or `;`) or a
/// number.
fn link_values(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => split_keys(s, out),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(list) => list.iter().for_each(|x| link_values(x, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tally_http::links::project_of_key;

    #[test]
    fn dates_skip_the_not_revised_marker() {
        assert!(date(Some(&json!("2014-03-18T17:17:05.76Z"))).is_some());
        assert!(date(Some(&json!("9999-01-01T00:00:00Z"))).is_none());
        assert!(date(Some(&json!("soon"))).is_none());
    }

    #[test]
    fn link_keys() {
        let mut v = Vec::new();
        link_values(&json!("OPS-17; OPS-18"), &mut v);
        assert_eq!(v, ["OPS-17", "OPS-18"]);
        assert_eq!(project_of_key("OPS-17"), Some("OPS"));
    }
}
