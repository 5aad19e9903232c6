//! A cursor for listings filtered by "changed at or after" in whole seconds (Redmine's
//! `updated_on`, Request Tracker's `LastUpdated`): the last second processed and the ids
//! processed at exactly that second. The next run asks from that second again and skips
//! those ids; asking from the next second instead would lose items changed later within
//! the same second.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tally_model::{ConnectorContext, ConnectorError};

/// The last second processed and the ids seen at it.
#[derive(Debug, Clone, PartialEq)]
pub struct LastSecond<Id> {
    pub at: DateTime<Utc>,
    pub ids: Vec<Id>,
}

impl<Id: Serialize + DeserializeOwned + PartialEq + Clone> LastSecond<Id> {
    /// Nothing processed yet: everything from `at` on is new.
    pub fn from(at: DateTime<Utc>) -> Self {
        LastSecond {
            at,
            ids: Vec::new(),
        }
    }

    /// A saved cursor: the JSON object `{"<key>": time, "ids": [...]}` that [`encode`]
    /// writes (the same the connectors wrote before this type was shared), or a bare
    /// RFC 3339 timestamp, e.g. set by hand to re-read from a date. `None` when it is
    /// neither.
    ///
    /// [`encode`]: LastSecond::encode
    pub fn parse(text: &str, key: &str) -> Option<Self> {
        if let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(text) {
            let at = serde_json::from_value(map.remove(key)?).ok()?;
            let ids = match map.remove("ids") {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => serde_json::from_value(v).ok()?,
            };
            return Some(LastSecond { at, ids });
        }
        DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| LastSecond::from(t.with_timezone(&Utc)))
    }

    /// The cursor as `{"<key>": time, "ids": [...]}`.
    pub fn encode(&self, key: &str) -> String {
        let mut map = serde_json::Map::new();
        map.insert(key.to_string(), serde_json::json!(self.at));
        map.insert("ids".to_string(), serde_json::json!(self.ids));
        Value::Object(map).to_string()
    }

    /// Records that item `id`, changed at `at`, is processed: a later second starts a new
    /// list of ids, the same second adds to it, an earlier one changes nothing.
    pub fn advance(&mut self, at: DateTime<Utc>, id: &Id) {
        if at > self.at {
            self.at = at;
            self.ids = vec![id.clone()];
        } else if at == self.at && !self.ids.contains(id) {
            self.ids.push(id.clone());
        }
    }
}

/// The cursor the previous run saved, read by `parse`. An unreadable one is a warning and
/// `None`: the run reads the last `lookback_days` again rather than failing.
pub async fn saved<C>(
    ctx: &ConnectorContext,
    lookback_days: u32,
    parse: impl FnOnce(&str) -> Option<C>,
) -> Result<Option<C>, ConnectorError> {
    let Some(text) = ctx.cursor() else {
        return Ok(None);
    };
    match parse(text) {
        Some(c) => Ok(Some(c)),
        None => {
            ctx.warn(format!(
                "the saved cursor {text:?} is not readable; reading the last {lookback_days} \
                 days again"
            ))
            .await?;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn cursors_written_before_this_type_still_load() {
        // Literally what tally-redmine and tally-rt saved before the cursor moved here.
        let redmine = r#"{"updated_on":"2026-10-01T12:00:00Z","ids":[7,9]}"#;
        let c = LastSecond::<u64>::parse(redmine, "updated_on").unwrap();
        assert_eq!((c.at, c.ids), (t("2026-10-01T12:00:00Z"), vec![7, 9]));
        let rt = r#"{"last_updated":"2026-12-01T09:56:38Z","ids":["2"]}"#;
        let c = LastSecond::<String>::parse(rt, "last_updated").unwrap();
        assert_eq!(
            (c.at, c.ids),
            (t("2026-12-01T09:56:38Z"), vec!["2".to_string()])
        );
        // `ids` was optional.
        let c = LastSecond::<u64>::parse(r#"{"updated_on":"2026-10-01T12:00:00Z"}"#, "updated_on");
        assert_eq!(c.unwrap().ids, Vec::<u64>::new());
    }

    #[test]
    fn round_trip_bare_timestamps_and_junk() {
        let mut c = LastSecond::<u64>::from(t("2026-10-01T12:00:00Z"));
        c.ids.push(3);
        let text = c.encode("updated_on");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"updated_on": "2026-10-01T12:00:00Z", "ids": [3]})
        );
        assert_eq!(LastSecond::parse(&text, "updated_on"), Some(c));
        let bare = LastSecond::<u64>::parse("2026-10-01T14:00:00+02:00", "updated_on").unwrap();
        assert_eq!(bare.at.to_rfc3339(), "2026-10-01T12:00:00+00:00");
        assert_eq!(LastSecond::<u64>::parse("yesterday", "updated_on"), None);
        // Another connector's cursor is not this one's.
        assert_eq!(LastSecond::<u64>::parse(&text, "last_updated"), None);
    }

    #[test]
    fn advancing_keeps_the_ids_of_the_last_second() {
        let mut c = LastSecond::<u64>::from(t("2026-10-01T12:00:00Z"));
        c.advance(t("2026-10-01T12:00:05Z"), &1);
        c.advance(t("2026-10-01T12:00:05Z"), &2);
        c.advance(t("2026-10-01T12:00:05Z"), &2);
        c.advance(t("2026-10-01T12:00:01Z"), &3);
        assert_eq!(
            (c.at, c.ids.clone()),
            (t("2026-10-01T12:00:05Z"), vec![1, 2])
        );
        c.advance(t("2026-10-01T12:00:06Z"), &4);
        assert_eq!(c.ids, vec![4]);
    }
}
