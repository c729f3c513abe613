//! `cargo bench --bench sla`: evaluation of a million open dossiers and the cost of single
//! calendar questions, each the median of five runs. Targets (DESIGN §4): 1,000,000 evaluations
//! in at most 0.5 s on one core; at most 1 µs per calendar question.

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use hcc_monitor::calendar::{Calendar, CalendarSettings};
use hcc_monitor::dossier::Status;
use hcc_monitor::sla::{OpenDossier, PauseSpan, SlaPolicy, SlaState, StatutoryTime, evaluate};

const DOSSIERS: usize = 1_000_000;
const QUESTIONS: usize = 1_000_000;
const RUNS: usize = 5;

/// SplitMix64: reproducible synthetic data without pulling a generator's features in.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Synthetic {
    received: DateTime<Utc>,
    due: Option<DateTime<Utc>>,
    status: Status,
    pauses: Vec<PauseSpan>,
}

fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("in range")
}

// 2025-01-01 00:00 and 2026-12-15 00:00, both UTC+7.
const START: i64 = 1_735_664_400;
const NOW: i64 = 1_797_267_600;

fn dossiers(cal: &Calendar, rng: &mut Rng) -> Vec<Synthetic> {
    (0..DOSSIERS)
        .map(|_| {
            let received = instant(START + rng.below((NOW - START) as u64) as i64);
            let time = match rng.below(10) {
                0 => None,
                1 => Some(StatutoryTime::CalendarDays(1 + rng.below(30) as u32)),
                2 => Some(StatutoryTime::WorkingHours(1 + rng.below(16) as u32)),
                _ => Some(StatutoryTime::WorkingDays(1 + rng.below(20) as u32)),
            };
            let paused = rng.below(5) == 0;
            let pauses = if paused {
                let start = received + TimeDelta::seconds(rng.below(500_000) as i64);
                let end = (rng.below(2) == 0)
                    .then(|| start + TimeDelta::seconds(rng.below(800_000) as i64));
                vec![PauseSpan { start, end }]
            } else {
                Vec::new()
            };
            let open_pause = pauses.iter().any(|p| p.end.is_none());
            Synthetic {
                received,
                due: time.map(|t| t.due_at(cal, received)),
                status: if open_pause {
                    Status::SupplementRequested
                } else {
                    Status::InProgress
                },
                pauses,
            }
        })
        .collect()
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn time_runs(mut run: impl FnMut()) -> Duration {
    median(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                run();
                t.elapsed()
            })
            .collect(),
    )
}

fn main() {
    let t = Instant::now();
    let cal = Calendar::from_settings(&CalendarSettings::default()).expect("default calendar");
    println!(
        "calendar build (index 2000-2031): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let mut rng = Rng(0x5EED);
    let data = dossiers(&cal, &mut rng);
    let policy = SlaPolicy::default();
    let now = instant(NOW);
    let mut counts = [0usize; 5];
    let took = time_runs(|| {
        counts = [0; 5];
        for d in &data {
            let dossier = OpenDossier {
                received_at: d.received,
                due_at: d.due,
                status: d.status,
                pauses: &d.pauses,
            };
            let e = evaluate(&cal, &policy, black_box(&dossier), black_box(now));
            counts[SlaState::ALL
                .iter()
                .position(|s| *s == e.state)
                .unwrap_or(0)] += 1;
        }
    });
    println!(
        "evaluate x {DOSSIERS}: {:.3} s median of {RUNS} ({:.0} ns per dossier; target <= 0.5 s)",
        took.as_secs_f64(),
        took.as_nanos() as f64 / DOSSIERS as f64
    );
    let summary: Vec<String> = SlaState::ALL
        .iter()
        .zip(counts)
        .map(|(s, n)| format!("{}={n}", s.as_str()))
        .collect();
    println!("  states: {}", summary.join(" "));

    let pairs: Vec<(DateTime<Utc>, DateTime<Utc>, i64)> = (0..QUESTIONS)
        .map(|_| {
            let from = START + rng.below((NOW - START) as u64) as i64;
            let to = from + rng.below(60 * 86_400) as i64;
            (instant(from), instant(to), rng.below(20 * 8 * 3600) as i64)
        })
        .collect();
    let per_call = |d: Duration| d.as_nanos() as f64 / QUESTIONS as f64;
    let between = time_runs(|| {
        for (from, to, _) in &pairs {
            black_box(cal.working_seconds_between(black_box(*from), black_box(*to)));
        }
    });
    println!(
        "working_seconds_between: {:.0} ns per call (target <= 1000)",
        per_call(between)
    );
    let add = time_runs(|| {
        for (from, _, secs) in &pairs {
            black_box(cal.add_working_seconds(black_box(*from), black_box(*secs)));
        }
    });
    println!(
        "add_working_seconds: {:.0} ns per call (target <= 1000)",
        per_call(add)
    );
}
