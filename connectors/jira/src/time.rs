//! Jira's timestamps and the JQL time condition.
//!
//! Jira writes times like `2021-04-16T01:49:50.369+0000`: ISO 8601 with an offset without a
//! colon, rendered in the time zone of the account making the request. JQL reads
//! `"yyyy-MM-dd HH:mm"` in that same time zone, so the cursor keeps Jira's own text and
//! the condition is written in the offset Jira used: no time-zone database needed, and no
//! hours lost or repeated for accounts far from UTC.

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde_json::Value;

/// Parses a Jira timestamp (also accepts RFC 3339, and epoch milliseconds as numbers,
/// which some Atlassian examples use).
pub fn parse(v: &Value) -> Option<DateTime<FixedOffset>> {
    match v {
        Value::String(s) => parse_str(s),
        Value::Number(n) => {
            let ms = n.as_i64()?;
            Utc.timestamp_millis_opt(ms)
                .single()
                .map(|t| t.fixed_offset())
        }
        _ => None,
    }
}

pub fn parse_str(s: &str) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
}

/// The JQL literal for `t`, to the minute (JQL has no seconds), in `t`'s own offset. The
/// minute is truncated, never rounded up, so nothing in the cursor's minute is missed;
/// what is seen again is skipped by the cursor's key list.
pub fn jql_literal(t: &DateTime<FixedOffset>) -> String {
    format!("\"{}\"", t.format("%Y-%m-%d %H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jira_formats() {
        let t = parse(&json!("2021-04-16T01:49:50.369+0000")).unwrap();
        assert_eq!(
            t.with_timezone(&Utc).to_rfc3339(),
            "2021-04-16T01:49:50.369+00:00"
        );
        let t = parse(&json!("2026-10-01T14:05:59.000+0200")).unwrap();
        assert_eq!(
            t.with_timezone(&Utc).to_rfc3339(),
            "2026-10-01T12:05:59+00:00"
        );
        // The JQL literal stays in Jira's offset: the account reads times in it.
        assert_eq!(jql_literal(&t), "\"2026-10-01 14:05\"");
        assert!(parse(&json!("2026-10-01T12:00:00Z")).is_some());
        assert!(parse(&json!("yesterday")).is_none());
        assert!(parse(&json!(1_618_537_790_369_i64)).is_some());
    }
}
