//! Time for the data set. Everything is generated as seconds after the start of a fixed
//! span (`SPAN_DAYS` before `end`), so the same people do the same things whatever `end`
//! is: a later `end` slides the data set, it does not reshuffle it. Only at the last step
//! is a time placed on the calendar and nudged into working hours on working days, which
//! needs no random numbers and so cannot change what else is generated.

use chrono::{DateTime, Months, Utc};

/// 545 days is just under the shortest possible 18 calendar months (546 days), so every
/// generated time stays inside `[end - 18 months, end]` without clamping in almost every
/// case.
pub(crate) const SPAN_DAYS: i64 = 545;
pub(crate) const DAY: i64 = 86_400;
pub(crate) const SPAN: i64 = SPAN_DAYS * DAY;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// Unix seconds of canonical time 0.
    origin: i64,
    /// Unix seconds of `end - 18 months`: nothing is placed before it.
    floor: i64,
    /// Unix seconds of `end`: nothing is placed after it.
    ceiling: i64,
    /// Sub-second part of `end`, kept so that a time clamped to `end` is exactly `end`.
    end: DateTime<Utc>,
}

impl Clock {
    pub(crate) fn new(end: DateTime<Utc>) -> Self {
        let floor = end
            .checked_sub_months(Months::new(18))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let ceiling = end.timestamp();
        Clock {
            origin: ceiling - SPAN,
            floor: floor.timestamp() + 1,
            ceiling,
            end,
        }
    }

    /// The calendar time of canonical second `s` (`0..=SPAN`).
    pub(crate) fn at(&self, s: i64) -> DateTime<Utc> {
        let raw = (self.origin + s).clamp(self.floor, self.ceiling);
        let nudged = working_time(raw);
        let t = if (self.floor..=self.ceiling).contains(&nudged) {
            nudged
        } else {
            raw
        };
        if t >= self.ceiling {
            return self.end;
        }
        DateTime::from_timestamp(t, 0).unwrap_or(self.end)
    }
}

/// Moves a time into the working pattern an administrator expects: most activity between
/// 07:00 and 18:00 UTC, some at night, few on weekends. It depends on the time alone, so
/// shifting `end` by whole weeks shifts every record by exactly that much.
fn working_time(t: i64) -> i64 {
    let mut day = t.div_euclid(DAY);
    let second_of_day = t.rem_euclid(DAY);
    // 1970-01-01 was a Thursday: 0 = Monday … 6 = Sunday.
    let weekday = (day + 3).rem_euclid(7);
    let x = second_of_day as f64 / DAY as f64;
    let hour = 3_600.0;
    let mapped = if x < 0.88 {
        7.0 * hour + x / 0.88 * 11.0 * hour
    } else {
        (18.0 * hour + (x - 0.88) / 0.12 * 13.0 * hour) % DAY as f64
    };
    // A weekend time stays with 1 chance in 7, otherwise it moves back to Friday: backwards
    // only, so a nudge never pushes a sync past an integration's deactivation.
    if weekday >= 5 && (second_of_day.wrapping_mul(2_654_435_761)).rem_euclid(7) != 0 {
        day -= weekday - 4;
    }
    day * DAY + mapped as i64
}

/// Canonical seconds for "this many days before end".
pub(crate) fn days_before_end(days: i64) -> i64 {
    SPAN - days * DAY
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike};

    #[test]
    fn times_stay_inside_eighteen_months() {
        for end in [
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2025, 8, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(2024, 2, 29, 12, 0, 0).unwrap(),
        ] {
            let clock = Clock::new(end);
            let floor = end.checked_sub_months(Months::new(18)).unwrap();
            for s in (0..=SPAN).step_by(3_701) {
                let t = clock.at(s);
                assert!(t <= end && t >= floor, "{t} outside [{floor}, {end}]");
            }
            assert!(clock.at(SPAN + 5) <= end);
        }
    }

    #[test]
    fn most_times_fall_in_working_hours_on_weekdays() {
        let clock = Clock::new(Utc.with_ymd_and_hms(2026, 1, 15, 9, 30, 0).unwrap());
        let (mut working, mut weekend, mut n) = (0, 0, 0);
        for s in (0..SPAN).step_by(977) {
            let t = clock.at(s);
            n += 1;
            if (7..18).contains(&t.hour()) {
                working += 1;
            }
            if t.weekday().number_from_monday() >= 6 {
                weekend += 1;
            }
        }
        assert!(working * 100 / n > 80, "{working} of {n}");
        assert!(weekend * 100 / n < 10, "{weekend} of {n}");
    }
}
