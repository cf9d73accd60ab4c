//! What the service counts, as Prometheus text (`GET /metrics`): events taken, commands queued,
//! unlock outcomes, and the latency of group commits.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::sync::Mutex;

/// The commit-latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0];

/// The service's counters (all monotonic) and its commit-latency histogram.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Webhook events committed (or ignored as not about a device's codes).
    pub events_taken: AtomicU64,
    /// Webhook events refused (malformed).
    pub events_refused: AtomicU64,
    /// Commands NanoMDM took.
    pub commands_queued: AtomicU64,
    /// Commands NanoMDM did not take.
    pub commands_failed: AtomicU64,
    /// Unlocks that removed Activation Lock.
    pub unlocks_unlocked: AtomicU64,
    /// Unlocks that did not.
    pub unlocks_not_unlocked: AtomicU64,
    /// API requests refused for want of a valid key.
    pub unauthorized: AtomicU64,
    commits: Mutex<Histogram>,
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
    groups: u64,
}

impl Metrics {
    /// Adds one to `counter`.
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one group commit of `members` events that took `took`.
    pub fn commit(&self, took: Duration, members: usize) {
        let seconds = took.as_secs_f64();
        if let Ok(mut h) = self.commits.lock() {
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
                if seconds <= *bound {
                    *count += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
            h.groups += u64::try_from(members).unwrap_or(u64::MAX);
        }
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        use core::fmt::Write as _;
        let mut out = String::new();
        let counters = [
            (
                "alb_webhook_events_total",
                "Webhook events taken.",
                &self.events_taken,
            ),
            (
                "alb_webhook_events_refused_total",
                "Webhook events refused as malformed.",
                &self.events_refused,
            ),
            (
                "alb_commands_queued_total",
                "Commands the MDM server took.",
                &self.commands_queued,
            ),
            (
                "alb_commands_failed_total",
                "Commands the MDM server did not take.",
                &self.commands_failed,
            ),
            (
                "alb_unauthorized_total",
                "Requests refused without a valid key.",
                &self.unauthorized,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP alb_unlocks_total Unlock journeys, by outcome.\n# TYPE alb_unlocks_total counter"
        );
        let _ = writeln!(
            out,
            "alb_unlocks_total{{outcome=\"unlocked\"}} {}\nalb_unlocks_total{{outcome=\"not_unlocked\"}} {}",
            self.unlocks_unlocked.load(Ordering::Relaxed),
            self.unlocks_not_unlocked.load(Ordering::Relaxed)
        );
        if let Ok(h) = self.commits.lock() {
            let name = "alb_commit_seconds";
            let _ = writeln!(
                out,
                "# HELP {name} Group commits of webhook events, by latency.\n# TYPE {name} histogram"
            );
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", h.sum, h.count);
            let _ = writeln!(
                out,
                "# HELP alb_commit_members_total Events committed in groups.\n# TYPE alb_commit_members_total counter\nalb_commit_members_total {}",
                h.groups
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_the_histogram() {
        let m = Metrics::default();
        Metrics::add(&m.events_taken);
        m.commit(Duration::from_millis(3), 4);
        let text = m.render();
        assert!(text.contains("alb_webhook_events_total 1\n"), "{text}");
        assert!(
            text.contains("alb_commit_seconds_bucket{le=\"0.002\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("alb_commit_seconds_bucket{le=\"0.005\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("alb_commit_members_total 4"), "{text}");
    }
}
