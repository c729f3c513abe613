//! Telling a refused message from a refusing server. A 5xx answer is permanent for that
//! message, so the row dies at once; but a misconfigured relay answers 5xx to everything, and
//! killing every queued email for it would lose them all. The same code for several recipients
//! in a short while, with nothing accepted in between, is taken as the server's fault: the rows
//! it killed at their first refusal go back to the queue, and later refusals are retried with
//! back-off like any other failure, until the server heals or their attempts run out.

use std::collections::VecDeque;

use chrono::{DateTime, Duration, Utc};

/// Distinct recipients refused with the same code that make a burst.
const BURST: usize = 3;
/// How far back refusals count.
const WINDOW_MINUTES: i64 = 10;

#[derive(Debug, Default)]
pub(super) struct Refusals {
    /// Oldest first.
    seen: VecDeque<Refusal>,
}

#[derive(Debug)]
struct Refusal {
    at: DateTime<Utc>,
    key: String,
    recipient: String,
    code: String,
    /// The row died of this refusal and is owed a revival if the server turns out at fault.
    killed: bool,
}

/// What a permanent refusal means, once seen beside the recent ones.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// This message is refused: it dies.
    Message,
    /// The server refuses everything: retry this one, and revive these earlier victims.
    Server { revive: Vec<String> },
}

impl Refusals {
    pub fn record(&mut self, now: DateTime<Utc>, key: &str, to: &str, code: &str) -> Verdict {
        let horizon = now - Duration::minutes(WINDOW_MINUTES);
        while self.seen.front().is_some_and(|r| r.at < horizon) {
            self.seen.pop_front();
        }
        let mut recipients: Vec<String> = self
            .seen
            .iter()
            .filter(|r| r.code == code)
            .map(|r| r.recipient.clone())
            .chain(std::iter::once(to.to_lowercase()))
            .collect();
        recipients.sort_unstable();
        recipients.dedup();
        let burst = recipients.len() >= BURST;
        let mut revive = Vec::new();
        if burst {
            for r in self.seen.iter_mut().filter(|r| r.code == code && r.killed) {
                r.killed = false;
                revive.push(r.key.clone());
            }
        }
        self.seen.push_back(Refusal {
            at: now,
            key: key.to_owned(),
            recipient: to.to_lowercase(),
            code: code.to_owned(),
            killed: !burst,
        });
        if burst {
            revive.sort_unstable();
            revive.dedup();
            Verdict::Server { revive }
        } else {
            Verdict::Message
        }
    }

    /// The server accepted a message: it works, and earlier refusals were about their messages.
    pub fn accepted(&mut self) {
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_780_000_000 + minute * 60, 0).unwrap()
    }

    #[test]
    fn one_bad_address_is_the_message_s_fault() {
        let mut r = Refusals::default();
        assert_eq!(r.record(at(0), "k1", "a@x.vn", "550"), Verdict::Message);
        // The same address refused again is still one recipient.
        assert_eq!(r.record(at(1), "k2", "A@x.vn", "550"), Verdict::Message);
        assert_eq!(r.record(at(2), "k3", "b@x.vn", "553"), Verdict::Message);
    }

    #[test]
    fn the_same_code_for_three_recipients_is_the_server_s_fault() {
        let mut r = Refusals::default();
        assert_eq!(r.record(at(0), "k1", "a@x.vn", "500"), Verdict::Message);
        assert_eq!(r.record(at(0), "k2", "b@x.vn", "500"), Verdict::Message);
        assert_eq!(
            r.record(at(1), "k3", "c@x.vn", "500"),
            Verdict::Server {
                revive: vec!["k1".into(), "k2".into()]
            }
        );
        // While it lasts, every refusal is the server's, and nothing is revived twice.
        assert_eq!(
            r.record(at(2), "k4", "d@x.vn", "500"),
            Verdict::Server { revive: vec![] }
        );
        assert_eq!(
            r.record(at(3), "k1", "a@x.vn", "500"),
            Verdict::Server { revive: vec![] }
        );
    }

    #[test]
    fn an_accepted_message_or_time_clears_the_suspicion() {
        let mut r = Refusals::default();
        r.record(at(0), "k1", "a@x.vn", "500");
        r.record(at(0), "k2", "b@x.vn", "500");
        r.accepted();
        assert_eq!(r.record(at(1), "k3", "c@x.vn", "500"), Verdict::Message);
        r.record(at(2), "k4", "d@x.vn", "500");
        // k3 and k4 are more than 10 minutes back.
        assert_eq!(r.record(at(13), "k5", "e@x.vn", "500"), Verdict::Message);
    }
}
