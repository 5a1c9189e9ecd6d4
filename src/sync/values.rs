//! Reading values out of provider records: ids, change times in each provider's format, and the
//! column types a preview shows.

use crate::catalog::TimeFormat;
pub(super) use crate::model::data::ColumnType;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// A change time as unix milliseconds, from any of the forms providers use: unix seconds (or
/// milliseconds), RFC 3339, a date-time without a zone (UTC, as WooCommerce's `_gmt` fields),
/// or Microsoft's `/Date(1573755038314+0000)/` (Xero).
pub(super) fn time_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => {
            let n = n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))?;
            // Seconds until the year 5138; beyond that it is milliseconds.
            Some(if n.abs() < 100_000_000_000 {
                n * 1000
            } else {
                n
            })
        }
        Value::String(s) => parse_time_text(s.trim()),
        _ => None,
    }
}

fn parse_time_text(s: &str) -> Option<i64> {
    if let Some(inner) = s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        let digits: String = inner
            .chars()
            .enumerate()
            .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
            .map(|(_, c)| c)
            .collect();
        return digits.parse().ok();
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(Utc.from_utc_datetime(&t).timestamp_millis());
        }
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(t.timestamp_millis());
    }
    s.parse::<i64>().ok().and_then(|n| time_ms(&Value::from(n)))
}

/// A cursor time (unix ms) as a provider's parameter wants it.
pub(super) fn format_time(ms: i64, format: TimeFormat) -> String {
    let at = Utc.timestamp_millis_opt(ms).single().unwrap_or_default();
    match format {
        TimeFormat::Rfc3339 => at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        TimeFormat::Unix => at.timestamp().to_string(),
        TimeFormat::HttpDate => at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        TimeFormat::UnixMillis => ms.to_string(),
    }
}

/// The columns of a set of records: every top-level field in order of first appearance, typed
/// by what its values have in common (integers and numbers make a number; anything else mixed
/// makes a string; nulls say nothing).
pub(crate) fn columns(records: &[Value]) -> Vec<(String, ColumnType)> {
    let mut found: Vec<(String, Option<ColumnType>)> = Vec::new();
    for record in records {
        let Value::Object(fields) = record else {
            continue;
        };
        for (name, value) in fields {
            let Some(kind) = kind_of(value) else {
                if !found.iter().any(|(n, _)| n == name) {
                    found.push((name.clone(), None));
                }
                continue;
            };
            match found.iter_mut().find(|(n, _)| n == name) {
                None => found.push((name.clone(), Some(kind))),
                Some((_, slot)) => *slot = Some(merge(*slot, kind)),
            }
        }
    }
    // The id first; the rest in the order the records list them.
    if let Some(at) = found.iter().position(|(name, _)| name == "id") {
        let id = found.remove(at);
        found.insert(0, id);
    }
    found
        .into_iter()
        .map(|(name, kind)| (name, kind.unwrap_or(ColumnType::String)))
        .collect()
}

fn kind_of(value: &Value) -> Option<ColumnType> {
    Some(match value {
        Value::Null => return None,
        Value::Bool(_) => ColumnType::Boolean,
        Value::Number(n) if n.is_i64() || n.is_u64() => ColumnType::Integer,
        Value::Number(_) => ColumnType::Number,
        Value::String(s) if looks_like_time(s) => ColumnType::Timestamp,
        Value::String(_) => ColumnType::String,
        Value::Array(_) => ColumnType::Array,
        Value::Object(_) => ColumnType::Object,
    })
}

fn looks_like_time(s: &str) -> bool {
    let b = s.as_bytes();
    // `YYYY-MM-DDTHH:MM…` (with T or a space), or Xero's `/Date(…)/`.
    (b.len() >= 16
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
        && parse_time_text(s).is_some())
        || (s.starts_with("/Date(") && s.ends_with(")/"))
}

fn merge(seen: Option<ColumnType>, next: ColumnType) -> ColumnType {
    use ColumnType::*;
    match (seen, next) {
        (None, n) => n,
        (Some(a), b) if a == b => a,
        (Some(Integer), Number) | (Some(Number), Integer) => Number,
        _ => String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn change_times_are_read_in_every_provider_format() {
        let at = 1_764_403_200_000; // 2025-11-29T08:00:00Z
        for value in [
            json!(1_764_403_200),
            json!(1_764_403_200_000_i64),
            json!("2025-11-29T08:00:00Z"),
            json!("2025-11-29T09:00:00+01:00"),
            json!("2025-11-29T08:00:00"),
            json!("2025-11-29T08:00:00.000Z"),
            json!("/Date(1764403200000+0000)/"),
        ] {
            assert_eq!(time_ms(&value), Some(at), "{value}");
        }
        assert_eq!(time_ms(&json!("yesterday")), None);
        assert_eq!(format_time(at, TimeFormat::Rfc3339), "2025-11-29T08:00:00Z");
        assert_eq!(format_time(at, TimeFormat::Unix), "1764403200");
        assert_eq!(
            format_time(at, TimeFormat::HttpDate),
            "Sat, 29 Nov 2025 08:00:00 GMT"
        );
    }

    #[test]
    fn columns_are_typed_by_what_their_values_share() {
        let records = [
            json!({"id": 1, "email": "a@example.com", "total": 3, "paid": true, "created": "2025-11-29T08:00:00Z", "tags": [], "address": null}),
            json!({"id": 2, "email": "b@example.com", "total": 2.5, "paid": false, "created": "2025-11-29T09:00:00Z", "tags": ["x"], "address": {"city": "Leeds"}, "note": "late"}),
            json!({"id": "3", "total": 1}),
        ];
        let cols = columns(&records);
        let kind = |name: &str| cols.iter().find(|(n, _)| n == name).map(|(_, k)| *k);
        assert_eq!(kind("id"), Some(ColumnType::String));
        assert_eq!(kind("email"), Some(ColumnType::String));
        assert_eq!(kind("total"), Some(ColumnType::Number));
        assert_eq!(kind("paid"), Some(ColumnType::Boolean));
        assert_eq!(kind("created"), Some(ColumnType::Timestamp));
        assert_eq!(kind("tags"), Some(ColumnType::Array));
        assert_eq!(kind("address"), Some(ColumnType::Object));
        assert_eq!(kind("note"), Some(ColumnType::String));
        assert_eq!(cols.first().map(|(n, _)| n.as_str()), Some("id"));
    }
}
