//! One collection run: the directory, then each table's records changed since the cursor,
//! page by page, with their journal entries, attachments and audit history. Each page's
//! records are sent before the cursor moves past them.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration as Days, Utc};
use serde::{Deserialize, Serialize};
use tally_http::links::link_target;
use tally_http::{CancellationToken, HttpClient, HttpError, Observations};
use tally_model::{
    ConnectorContext, ConnectorError, EntityRef, Interaction, Record, SyncRecord, SyncStatus,
};

use crate::people::{account_of, field, join, time, Envelope, People, Person, Row, USER_FIELDS};
use crate::Settings;

/// Where one table's listing stopped: the last `sys_updated_on` processed and the records
/// processed at exactly that second (the `>=` query asks from that second again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Mark {
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub ids: Vec<String>,
}

/// The cursor: one mark per table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    #[serde(default)]
    pub tables: BTreeMap<String, Mark>,
}

impl Cursor {
    fn parse(text: &str) -> Option<Cursor> {
        serde_json::from_str(text).ok()
    }

    fn encode(&self) -> String {
        // A map of timestamps and strings always serialises.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The Table API's time format, in UTC.
fn sn_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn table_label(table: &str) -> String {
    match table {
        "incident" => "Incident".to_string(),
        "problem" => "Problem".to_string(),
        "change_request" => "Change Request".to_string(),
        "sc_req_item" => "Requested Item".to_string(),
        "sc_task" => "Catalog Task".to_string(),
        other => other.to_string(),
    }
}

/// The related tables read for each page of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Related {
    Journal,
    Attachments,
    Audit,
    Mentions,
}

impl Related {
    fn table(self, s: &Settings) -> &str {
        match self {
            Related::Journal => "sys_journal_field",
            Related::Attachments => "sys_attachment",
            Related::Audit => "sys_audit",
            Related::Mentions => s.mention_table.trim(),
        }
    }
}

pub(crate) struct Collector<'a> {
    client: HttpClient,
    system: String,
    settings: &'a Settings,
    people: People,
    started: DateTime<Utc>,
    /// Related tables this account may not read (told once).
    closed: HashSet<Related>,
    sent: u64,
}

impl<'a> Collector<'a> {
    pub fn new(client: HttpClient, system: String, settings: &'a Settings) -> Self {
        Collector {
            client,
            system,
            settings,
            people: People::default(),
            started: Utc::now(),
            closed: HashSet::new(),
            sent: 0,
        }
    }

    pub async fn run(mut self, ctx: &ConnectorContext) -> Result<(), ConnectorError> {
        let cancel = ctx.shutdown().clone();
        let mut cursor = tally_http::cursor::saved(ctx, self.settings.lookback_days, Cursor::parse)
            .await?
            .unwrap_or_default();
        if self.settings.directory {
            self.directory(ctx, &cancel).await?;
        }
        for table in &self.settings.tables {
            self.walk(ctx, &cancel, &mut cursor, table.trim()).await?;
        }
        Ok(())
    }

    /// One page of `table`'s records matching `query`.
    async fn page(
        &self,
        cancel: &CancellationToken,
        table: &str,
        query: &str,
        fields: Option<&str>,
        offset: u64,
    ) -> Result<Vec<Row>, HttpError> {
        let offset = offset.to_string();
        let limit = self.settings.page_size.to_string();
        let mut params = vec![
            ("sysparm_query", query),
            ("sysparm_display_value", "false"),
            ("sysparm_exclude_reference_link", "true"),
            ("sysparm_offset", offset.as_str()),
            ("sysparm_limit", limit.as_str()),
        ];
        if let Some(f) = fields {
            params.push(("sysparm_fields", f));
        }
        let env: Envelope = self
            .client
            .get_json(cancel, &format!("api/now/table/{table}"), &params)
            .await?;
        Ok(env.result)
    }

    /// Every record of `table` matching `query` (ordered, so offsets are stable).
    async fn all(
        &self,
        cancel: &CancellationToken,
        table: &str,
        query: &str,
        fields: &str,
    ) -> Result<Vec<Row>, HttpError> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        let mut previous_first: Option<String> = None;
        loop {
            let rows = self
                .page(cancel, table, query, Some(fields), offset)
                .await?;
            let n = rows.len() as u64;
            // A server (or proxy) that ignores sysparm_offset would answer the same page
            // for ever.
            let first = rows
                .first()
                .and_then(|r| field(r, "sys_id"))
                .map(str::to_string);
            if first.is_some() && first == previous_first {
                return Err(HttpError::Json {
                    connector: self.client.connector().to_string(),
                    url: format!("api/now/table/{table}"),
                    detail: format!(
                        "the page at sysparm_offset={offset} repeats the previous page"
                    ),
                });
            }
            previous_first = first;
            out.extend(rows);
            if n < u64::from(self.settings.page_size) {
                return Ok(out);
            }
            offset += n;
        }
    }

    async fn directory(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
    ) -> Result<(), ConnectorError> {
        match self
            .all(cancel, "sys_user", "ORDERBYsys_id", USER_FIELDS)
            .await
        {
            Ok(rows) => {
                let accounts: Vec<Record> = rows
                    .iter()
                    .filter_map(|r| account_of(&self.system, self.started, r))
                    .map(Record::Account)
                    .collect();
                for r in &rows {
                    self.people.remember(r);
                }
                ctx.send_batch(accounts).await?;
                Ok(())
            }
            // Wrong credentials fail the run here, before anything else is asked.
            Err(e) if e.is_cancelled() || e.status() == Some(401) => Err(e.into()),
            Err(e) => {
                ctx.warn(format!(
                    "sys_user could not be read, so no accounts are reported and people are \
                     matched by user name only (give the integration user read access to \
                     sys_user): {e}"
                ))
                .await?;
                Ok(())
            }
        }
    }

    async fn walk(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
        cursor: &mut Cursor,
        table: &str,
    ) -> Result<(), ConnectorError> {
        let lookback = self.started - Days::days(i64::from(self.settings.lookback_days));
        let mut mark = cursor.tables.get(table).cloned().unwrap_or(Mark {
            at: lookback,
            ids: Vec::new(),
        });
        let related_since = mark.at;
        let mut since = mark.at;
        let mut processed: HashSet<(String, DateTime<Utc>)> =
            mark.ids.iter().map(|id| (id.clone(), mark.at)).collect();
        let mut offset = 0u64;
        let mut first = true;
        loop {
            // Keyset on (sys_updated_on, sys_id): the query restarts from the last second
            // seen, so a record updated while the run pages is not skipped.
            let query = format!(
                "sys_updated_on>={}^ORDERBYsys_updated_on^ORDERBYsys_id",
                sn_time(since)
            );
            let rows = match self.page(cancel, table, &query, None, offset).await {
                Ok(rows) => rows,
                Err(e) if first && matches!(e.status(), Some(400 | 403 | 404)) => {
                    return Err(ConnectorError::Config(format!(
                        "connector '{}': table '{table}' cannot be read: it does not exist or \
                         the integration user lacks read access to it (a role such as itil, \
                         or an ACL) ({e})",
                        self.client.connector()
                    )))
                }
                Err(e) => return Err(e.into()),
            };
            first = false;
            let page_len = rows.len() as u64;
            let mut fresh: Vec<(Row, String, DateTime<Utc>)> = Vec::new();
            let mut last_at = None;
            for row in rows {
                let (Some(id), Some(at)) = (
                    field(&row, "sys_id").map(str::to_string),
                    time(&row, "sys_updated_on"),
                ) else {
                    ctx.skipped(format!(
                        "a {table} record without sys_id or a readable sys_updated_on"
                    ))
                    .await?;
                    continue;
                };
                last_at = Some(at);
                if at >= since && processed.insert((id.clone(), at)) {
                    fresh.push((row, id, at));
                }
            }
            if !fresh.is_empty() {
                let records = self
                    .records_for(ctx, cancel, table, &fresh, related_since)
                    .await?;
                ctx.send_batch(records).await?;
                for (_, id, at) in &fresh {
                    if *at > mark.at {
                        mark.at = *at;
                        mark.ids.clear();
                    }
                    if *at == mark.at && !mark.ids.contains(id) {
                        mark.ids.push(id.clone());
                    }
                }
                cursor.tables.insert(table.to_string(), mark.clone());
                // Only after this page's records are on their way to the store.
                ctx.checkpoint(cursor.encode()).await?;
                self.sent += fresh.len() as u64;
                ctx.progress(self.sent, None).await?;
            }
            if page_len < u64::from(self.settings.page_size) {
                break;
            }
            match last_at {
                Some(at) if at > since => {
                    since = at;
                    offset = 0;
                }
                // A whole page within one second: step over it.
                _ => offset += page_len,
            }
        }
        Ok(())
    }

    /// The rows of a related table for these records, or nothing when this account may
    /// not read it (told once).
    async fn related(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
        kind: Related,
        query: String,
        fields: &str,
    ) -> Result<Vec<Row>, ConnectorError> {
        if self.closed.contains(&kind) {
            return Ok(Vec::new());
        }
        let table = kind.table(self.settings);
        match self.all(cancel, table, &query, fields).await {
            Ok(rows) => Ok(rows),
            Err(e) if matches!(e.status(), Some(401 | 403)) => {
                self.closed.insert(kind);
                ctx.warn(format!(
                    "{table} cannot be read by the integration user, so its interactions are \
                     missing (grant read access to {table}): {e}"
                ))
                .await?;
                Ok(Vec::new())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn records_for(
        &mut self,
        ctx: &ConnectorContext,
        cancel: &CancellationToken,
        table: &str,
        rows: &[(Row, String, DateTime<Utc>)],
        since: DateTime<Utc>,
    ) -> Result<Vec<Record>, ConnectorError> {
        let ids = join(rows.iter().map(|(_, id, _)| id.as_str()));
        let since_text = sn_time(since);
        let s = self.settings;
        let journal = if s.journal {
            self.related(
                ctx,
                cancel,
                Related::Journal,
                format!(
                    "name={table}^element_idIN{ids}^elementINcomments,work_notes^\
                     sys_created_on>={since_text}^ORDERBYsys_created_on^ORDERBYsys_id"
                ),
                "element_id,element,sys_created_on,sys_created_by",
            )
            .await?
        } else {
            Vec::new()
        };
        let attachments = if s.attachments {
            self.related(
                ctx,
                cancel,
                Related::Attachments,
                format!(
                    "table_name={table}^table_sys_idIN{ids}^sys_created_on>={since_text}^\
                     ORDERBYsys_created_on^ORDERBYsys_id"
                ),
                "table_sys_id,sys_created_on,sys_created_by",
            )
            .await?
        } else {
            Vec::new()
        };
        let audit = if s.audit {
            self.related(
                ctx,
                cancel,
                Related::Audit,
                format!(
                    "tablename={table}^documentkeyIN{ids}^sys_created_on>={since_text}^\
                     ORDERBYsys_created_on^ORDERBYsys_id"
                ),
                "documentkey,fieldname,newvalue,user,sys_created_on",
            )
            .await?
        } else {
            Vec::new()
        };

        let mentions = if s.mentions {
            self.related(
                ctx,
                cancel,
                Related::Mentions,
                format!(
                    "table={table}^documentIN{ids}^sys_created_on>={since_text}^\
                     ORDERBYsys_created_on^ORDERBYsys_id"
                ),
                "document,table,user,sys_created_on",
            )
            .await?
        } else {
            Vec::new()
        };

        let mapped = |f: &str| s.mapped_fields.iter().any(|m| m.trim() == f);
        // Who to look up in sys_user: user names (creators, updaters, writers) and the
        // sys_ids of reference fields and assignment moves.
        let mut names: Vec<String> = Vec::new();
        let mut user_ids: Vec<String> = Vec::new();
        for (row, _, _) in rows {
            names.extend(
                ["sys_created_by", "sys_updated_by"]
                    .iter()
                    .filter_map(|f| field(row, f))
                    .map(str::to_string),
            );
            user_ids.extend(
                s.mapped_fields
                    .iter()
                    .filter_map(|f| field(row, f.trim()))
                    .map(str::to_string),
            );
        }
        for r in journal.iter().chain(&attachments) {
            names.extend(field(r, "sys_created_by").map(str::to_string));
        }
        // A mention names the mentioned user by sys_id.
        user_ids.extend(
            mentions
                .iter()
                .filter_map(|m| field(m, "user"))
                .map(str::to_string),
        );
        for r in &audit {
            names.extend(field(r, "user").map(str::to_string));
            if field(r, "fieldname").is_some_and(mapped) {
                user_ids.extend(field(r, "newvalue").map(str::to_string));
            }
        }
        self.people
            .resolve(&self.client, cancel, &user_ids, &names)
            .await?;

        let mut out = Vec::new();
        for (row, id, updated) in rows {
            let entity = EntityRef {
                system: self.system.clone(),
                project: Some(table.to_string()),
                entity_type: Some(table_label(table)),
                entity_id: field(row, "number").unwrap_or(id).to_string(),
            };
            // One observation per person, interaction and moment within a record.
            let mut obs = Observations::new(&entity);
            let mut push = |p: Option<Person>, interaction: Interaction, at: DateTime<Utc>| {
                obs.push_some(p, interaction, at)
            };
            let people = &self.people;
            if let (Some(who), Some(at)) =
                (field(row, "sys_created_by"), time(row, "sys_created_on"))
            {
                push(people.by_name(who), Interaction::Updater, at);
            }
            if let Some(who) = field(row, "sys_updated_by") {
                push(people.by_name(who), Interaction::Updater, *updated);
            }
            for f in &s.mapped_fields {
                if let Some(user) = field(row, f.trim()) {
                    push(people.by_id(user), Interaction::MappedUserField, *updated);
                }
            }
            for j in journal
                .iter()
                .filter(|j| field(j, "element_id") == Some(id))
            {
                if let (Some(who), Some(at)) =
                    (field(j, "sys_created_by"), time(j, "sys_created_on"))
                {
                    push(people.by_name(who), Interaction::CommentAuthor, at);
                }
            }
            for a in attachments
                .iter()
                .filter(|a| field(a, "table_sys_id") == Some(id))
            {
                if let (Some(who), Some(at)) =
                    (field(a, "sys_created_by"), time(a, "sys_created_on"))
                {
                    push(people.by_name(who), Interaction::AttachmentAuthor, at);
                }
            }
            for a in audit.iter().filter(|a| field(a, "documentkey") == Some(id)) {
                let Some(at) = time(a, "sys_created_on") else {
                    continue;
                };
                if let Some(who) = field(a, "user") {
                    push(people.by_name(who), Interaction::Updater, at);
                }
                // An assignment move: the user the record was assigned to then.
                if field(a, "fieldname").is_some_and(mapped) {
                    if let Some(user) = field(a, "newvalue") {
                        push(people.by_id(user), Interaction::MappedUserField, at);
                    }
                }
            }
            for m in mentions.iter().filter(|m| field(m, "document") == Some(id)) {
                if let (Some(user), Some(at)) = (field(m, "user"), time(m, "sys_created_on")) {
                    push(people.by_id(user), Interaction::Mention, at);
                }
            }
            out.extend(obs.into_records());
            if let Some(key) = field(row, s.link_field.trim()) {
                let other = s
                    .link_system
                    .as_deref()
                    .or_else(|| field(row, s.link_system_field.trim()));
                if let Some(other) = other {
                    out.push(Record::Sync(SyncRecord {
                        at: *updated,
                        status: SyncStatus::Success,
                        source: entity.clone(),
                        target: link_target(other, s.link_project.as_deref(), key),
                    }));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_and_times() {
        let t: DateTime<Utc> = "2026-10-01T12:00:05Z".parse().unwrap();
        assert_eq!(sn_time(t), "2026-10-01 12:00:05");
        let mut c = Cursor::default();
        c.tables.insert(
            "incident".into(),
            Mark {
                at: t,
                ids: vec!["a".into()],
            },
        );
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        assert_eq!(Cursor::parse("2026"), None);
        assert_eq!(table_label("change_request"), "Change Request");
    }
}
