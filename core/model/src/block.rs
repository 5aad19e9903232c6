//! Records in compact form, for sources that yield millions of them (a file): the texts of
//! a block's observations and syncs lie in one buffer and each record holds only their
//! offsets, so a block of thousands of records is three allocations instead of seven
//! strings a record. The store reads every record, owned or in a block, through the same
//! borrowed views ([`RecordView`]).

use chrono::{DateTime, Utc};

use crate::record::{EntityRef, Interaction, Record, SyncRecord, SyncStatus, UserObservation};

/// [`UserObservation`] with borrowed texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserView<'a> {
    pub system: &'a str,
    pub at: DateTime<Utc>,
    pub email: Option<&'a str>,
    pub username: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub interaction: Interaction,
    pub project: Option<&'a str>,
    pub entity_type: Option<&'a str>,
    pub entity_id: Option<&'a str>,
    pub service_account: bool,
}

/// [`EntityRef`] with borrowed texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityView<'a> {
    pub system: &'a str,
    pub project: Option<&'a str>,
    pub entity_type: Option<&'a str>,
    pub entity_id: &'a str,
}

/// [`SyncRecord`] with borrowed texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncView<'a> {
    pub at: DateTime<Utc>,
    pub status: SyncStatus,
    pub source: EntityView<'a>,
    pub target: EntityView<'a>,
}

/// A record as the store reads it: observations and syncs borrowed, the rare kinds as
/// they are.
#[derive(Debug, Clone, Copy)]
pub enum RecordView<'a> {
    User(UserView<'a>),
    Sync(SyncView<'a>),
    Other(&'a Record),
}

impl UserObservation {
    pub fn view(&self) -> UserView<'_> {
        UserView {
            system: &self.system,
            at: self.at,
            email: self.email.as_deref(),
            username: self.username.as_deref(),
            display_name: self.display_name.as_deref(),
            interaction: self.interaction,
            project: self.project.as_deref(),
            entity_type: self.entity_type.as_deref(),
            entity_id: self.entity_id.as_deref(),
            service_account: self.service_account,
        }
    }
}

impl UserView<'_> {
    pub fn to_owned(&self) -> UserObservation {
        UserObservation {
            system: self.system.to_owned(),
            at: self.at,
            email: self.email.map(str::to_owned),
            username: self.username.map(str::to_owned),
            display_name: self.display_name.map(str::to_owned),
            interaction: self.interaction,
            project: self.project.map(str::to_owned),
            entity_type: self.entity_type.map(str::to_owned),
            entity_id: self.entity_id.map(str::to_owned),
            service_account: self.service_account,
        }
    }
}

impl EntityRef {
    pub fn view(&self) -> EntityView<'_> {
        EntityView {
            system: &self.system,
            project: self.project.as_deref(),
            entity_type: self.entity_type.as_deref(),
            entity_id: &self.entity_id,
        }
    }
}

impl EntityView<'_> {
    pub fn to_owned(&self) -> EntityRef {
        EntityRef {
            system: self.system.to_owned(),
            project: self.project.map(str::to_owned),
            entity_type: self.entity_type.map(str::to_owned),
            entity_id: self.entity_id.to_owned(),
        }
    }
}

impl SyncRecord {
    pub fn view(&self) -> SyncView<'_> {
        SyncView {
            at: self.at,
            status: self.status,
            source: self.source.view(),
            target: self.target.view(),
        }
    }
}

impl SyncView<'_> {
    pub fn to_owned(&self) -> SyncRecord {
        SyncRecord {
            at: self.at,
            status: self.status,
            source: self.source.to_owned(),
            target: self.target.to_owned(),
        }
    }
}

impl Record {
    pub fn view(&self) -> RecordView<'_> {
        match self {
            Record::User(u) => RecordView::User(u.view()),
            Record::Sync(s) => RecordView::Sync(s.view()),
            other => RecordView::Other(other),
        }
    }
}

impl RecordView<'_> {
    pub fn to_owned(&self) -> Record {
        match self {
            RecordView::User(u) => Record::User(u.to_owned()),
            RecordView::Sync(s) => Record::Sync(s.to_owned()),
            RecordView::Other(r) => (*r).clone(),
        }
    }
}

/// Where a text lies in the block's buffer; `start > end` for an absent optional one.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

const ABSENT: Span = Span { start: 1, end: 0 };

#[derive(Debug, Clone, Copy)]
struct EntitySpans {
    system: Span,
    project: Span,
    entity_type: Span,
    entity_id: Span,
}

#[derive(Debug)]
enum Item {
    User {
        at: DateTime<Utc>,
        interaction: Interaction,
        service_account: bool,
        /// system, email, username, display name, project, entity type, entity id
        texts: [Span; 7],
    },
    Sync {
        at: DateTime<Utc>,
        status: SyncStatus,
        source: EntitySpans,
        target: EntitySpans,
    },
    /// Integrations and accounts (rare), and a record whose texts would take the buffer
    /// past 4 GiB.
    Other(Box<Record>),
}

/// Records in the order they were pushed, observations and syncs in compact form.
#[derive(Debug, Default)]
pub struct RecordBlock {
    text: String,
    items: Vec<Item>,
}

/// Buffers of dropped blocks, for the next ones. A block is filled on a connector's thread
/// and dropped on the store's: through the allocator, each of its two large buffers was
/// freed to the other thread's heap, and the reader kept taking fresh memory meanwhile
/// (a 1 M collection's peak rose by a fifth). Kept empty.
static SPARE: std::sync::Mutex<Vec<(String, Vec<Item>)>> = std::sync::Mutex::new(Vec::new());

/// Spare buffers kept at most: the blocks in flight (the collector's channel holds 16
/// envelopes, and one is filled while one is read), about 8 MB, kept for the next
/// collection. With four kept, the stager's bursts (it empties a full channel at once)
/// sent the rest back to the allocator, and a 1 M collection's peak went from 99–107 to
/// 123–129 MiB.
const SPARE_MAX: usize = 20;

impl Drop for RecordBlock {
    fn drop(&mut self) {
        if self.text.capacity() == 0 && self.items.capacity() == 0 {
            return;
        }
        let mut text = std::mem::take(&mut self.text);
        let mut items = std::mem::take(&mut self.items);
        text.clear();
        items.clear();
        if let Ok(mut spare) = SPARE.lock() {
            if spare.len() < SPARE_MAX {
                spare.push((text, items));
            }
        }
    }
}

impl RecordBlock {
    /// A block for about `records` records of about `text_bytes` bytes of text in all,
    /// on the buffers of a dropped one where there is one.
    pub fn with_capacity(records: usize, text_bytes: usize) -> RecordBlock {
        let spare = SPARE.lock().ok().and_then(|mut s| s.pop());
        let (mut text, mut items) = spare.unwrap_or_default();
        text.reserve(text_bytes);
        items.reserve(records);
        RecordBlock { text, items }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Copies `text` into the buffer; `None` when it would pass 4 GiB.
    fn put(&mut self, text: &str) -> Option<Span> {
        let start = u32::try_from(self.text.len()).ok()?;
        let end = u32::try_from(self.text.len() + text.len()).ok()?;
        self.text.push_str(text);
        Some(Span { start, end })
    }

    fn put_opt(&mut self, text: Option<&str>) -> Option<Span> {
        text.map_or(Some(ABSENT), |t| self.put(t))
    }

    fn put_entity(&mut self, e: &EntityView<'_>) -> Option<EntitySpans> {
        Some(EntitySpans {
            system: self.put(e.system)?,
            project: self.put_opt(e.project)?,
            entity_type: self.put_opt(e.entity_type)?,
            entity_id: self.put(e.entity_id)?,
        })
    }

    pub fn push_user(&mut self, u: &UserView<'_>) {
        let mark = self.text.len();
        let texts = (|| {
            Some([
                self.put(u.system)?,
                self.put_opt(u.email)?,
                self.put_opt(u.username)?,
                self.put_opt(u.display_name)?,
                self.put_opt(u.project)?,
                self.put_opt(u.entity_type)?,
                self.put_opt(u.entity_id)?,
            ])
        })();
        match texts {
            Some(texts) => self.items.push(Item::User {
                at: u.at,
                interaction: u.interaction,
                service_account: u.service_account,
                texts,
            }),
            None => {
                self.text.truncate(mark);
                self.items
                    .push(Item::Other(Box::new(Record::User(u.to_owned()))));
            }
        }
    }

    pub fn push_sync(&mut self, s: &SyncView<'_>) {
        let mark = self.text.len();
        let ends = (|| Some((self.put_entity(&s.source)?, self.put_entity(&s.target)?)))();
        match ends {
            Some((source, target)) => self.items.push(Item::Sync {
                at: s.at,
                status: s.status,
                source,
                target,
            }),
            None => {
                self.text.truncate(mark);
                self.items
                    .push(Item::Other(Box::new(Record::Sync(s.to_owned()))));
            }
        }
    }

    /// Any record; observations and syncs go into the compact form.
    pub fn push(&mut self, record: Record) {
        match &record {
            Record::User(u) => self.push_user(&u.view()),
            Record::Sync(s) => self.push_sync(&s.view()),
            _ => self.items.push(Item::Other(Box::new(record))),
        }
    }

    fn text(&self, span: Span) -> &str {
        // Spans are made by `put` on this buffer, at character boundaries.
        self.text
            .get(span.start as usize..span.end as usize)
            .unwrap_or_default()
    }

    fn text_opt(&self, span: Span) -> Option<&str> {
        (span.start <= span.end).then(|| self.text(span))
    }

    fn entity(&self, e: &EntitySpans) -> EntityView<'_> {
        EntityView {
            system: self.text(e.system),
            project: self.text_opt(e.project),
            entity_type: self.text_opt(e.entity_type),
            entity_id: self.text(e.entity_id),
        }
    }

    fn view<'b>(&'b self, item: &'b Item) -> RecordView<'b> {
        match item {
            Item::User {
                at,
                interaction,
                service_account,
                texts: [system, email, username, display_name, project, entity_type, entity_id],
            } => RecordView::User(UserView {
                system: self.text(*system),
                at: *at,
                email: self.text_opt(*email),
                username: self.text_opt(*username),
                display_name: self.text_opt(*display_name),
                interaction: *interaction,
                project: self.text_opt(*project),
                entity_type: self.text_opt(*entity_type),
                entity_id: self.text_opt(*entity_id),
                service_account: *service_account,
            }),
            Item::Sync {
                at,
                status,
                source,
                target,
            } => RecordView::Sync(SyncView {
                at: *at,
                status: *status,
                source: self.entity(source),
                target: self.entity(target),
            }),
            Item::Other(record) => record.view(),
        }
    }

    /// The records in the order they were pushed.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = RecordView<'_>> + '_ {
        self.items.iter().map(|item| self.view(item))
    }

    pub fn to_records(&self) -> Vec<Record> {
        self.iter().map(|r| r.to_owned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn a_block_gives_back_every_record_in_order_absent_and_empty_texts_apart() {
        let user = UserObservation {
            system: "Jira".into(),
            at: at("2026-10-01T12:00:00Z"),
            email: Some("ann@corp.example".into()),
            username: None,
            display_name: Some(String::new()),
            interaction: Interaction::Mention,
            project: Some("OPS".into()),
            entity_type: None,
            entity_id: Some("OPS-1 ✓".into()),
            service_account: true,
        };
        let sync = SyncRecord {
            at: at("2026-10-02T00:00:00Z"),
            status: SyncStatus::Failed,
            source: EntityRef {
                system: "Jira".into(),
                project: None,
                entity_type: Some("Bug".into()),
                entity_id: "OPS-1".into(),
            },
            target: EntityRef {
                system: "GitHub".into(),
                project: Some(String::new()),
                entity_type: None,
                entity_id: "42".into(),
            },
        };
        // An account: a kind that stays a whole record inside a block.
        let account: Record = serde_json::from_str(
            r#"{"kind":"account","system":"GitHub","at":"2026-10-03T00:00:00Z","id":"7","username":"ann","status":"active"}"#,
        )
        .expect("account");
        let records = vec![
            Record::User(user.clone()),
            account,
            Record::Sync(sync),
            Record::User(UserObservation {
                email: None,
                ..user
            }),
        ];
        let mut block = RecordBlock::default();
        for r in records.clone() {
            block.push(r);
        }
        assert_eq!(block.len(), 4);
        assert_eq!(block.to_records(), records);
        assert!(
            matches!(block.iter().nth(1), Some(RecordView::Other(Record::Account(a))) if a.id == "7")
        );
    }
}
