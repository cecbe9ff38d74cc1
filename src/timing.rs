//! How durations appear in JSON: milliseconds with microsecond precision.

use std::time::Duration;

use serde::Serializer;

/// Serializes a duration as milliseconds with microsecond precision.
pub fn serialize_ms<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    let ms = (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    serializer.serialize_f64(ms)
}
