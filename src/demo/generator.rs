//! Realistic dossiers for the demo and for benchmarks: every status, some resolved late (mostly
//! land procedures), some near or past their deadline. Deterministic for a seed.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::catalog::{PROCEDURES, Procedure, processing_status};

/// Computes a due instant: `working_days` of office time after an instant.
pub type DueFn = std::sync::Arc<dyn Fn(DateTime<Utc>, u32) -> DateTime<Utc> + Send + Sync>;

/// One row of the demo source table `ho_so` (times are local to the centre, as many provincial
/// systems store them).
#[derive(Debug, Clone, PartialEq)]
pub struct DemoRow {
    pub ma_ho_so: String,
    pub ma_thu_tuc: &'static str,
    pub ten_thu_tuc: &'static str,
    pub ma_don_vi: &'static str,
    pub kenh_nop: i64,
    pub ngay_tiep_nhan: NaiveDateTime,
    pub ngay_hen_tra: Option<NaiveDateTime>,
    pub ngay_co_ket_qua: Option<NaiveDateTime>,
    pub trang_thai: &'static str,
    pub ngay_cap_nhat: NaiveDateTime,
}

pub struct Generator {
    rng: StdRng,
    due: DueFn,
    tz: Tz,
    seq: u64,
}

impl Generator {
    pub fn new(seed: u64, tz: Tz, due: DueFn) -> Generator {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            due,
            tz,
            seq: 0,
        }
    }

    /// Continues numbering after existing rows, so the trickle never reuses an id.
    pub fn start_sequence_at(&mut self, seq: u64) {
        self.seq = seq;
    }

    fn procedure(&mut self) -> &'static Procedure {
        self.pick(&PROCEDURES, |p| p.weight)
    }

    /// One of `items`, drawn in proportion to `weight` (some weight must be positive).
    pub fn pick<'a, T>(&mut self, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
        let total: u32 = items.iter().map(&weight).sum();
        let mut pick = self.rng.random_range(0..total);
        items
            .iter()
            .find(|item| {
                let w = weight(item);
                if pick < w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .unwrap_or(&items[0])
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }

    /// A receipt instant within `span_days` before `now`: online submissions at any hour,
    /// in-person ones inside office hours on weekdays.
    fn receipt(&mut self, now: DateTime<Utc>, span_days: i64, channel: i64) -> DateTime<Utc> {
        let back = self.rng.random_range(0..span_days.max(1) * 86_400);
        let t = now - Duration::seconds(back);
        if channel == 2 {
            return t;
        }
        let mut day = self.local(t).date();
        while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            day = day.pred_opt().unwrap_or(day);
        }
        let minute = self.rng.random_range(0..420u32);
        let minute = if minute < 270 {
            420 + minute
        } else {
            810 + minute - 270
        };
        let local =
            day.and_time(NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap_or_default());
        let at = local
            .and_local_timezone(self.tz)
            .earliest()
            .map_or(t, |l| l.with_timezone(&Utc));
        at.min(now)
    }

    fn next_id(&mut self, received: DateTime<Utc>) -> String {
        self.seq += 1;
        format!(
            "HS-{}-{:06}",
            self.local(received).format("%y%m%d"),
            self.seq
        )
    }

    /// A dossier received at some point in the last `span_days`, in the state its age implies
    /// at `now`.
    pub fn historic(&mut self, now: DateTime<Utc>, span_days: i64) -> DemoRow {
        let p = *self.procedure();
        let channel = if self.rng.random_bool(0.45) {
            2
        } else if self.rng.random_bool(0.05) {
            3
        } else {
            1
        };
        let received = self.receipt(now, span_days, channel);
        let due = (self.due)(received, p.working_days);
        let mut row = self.base(&p, channel, received, due);
        let r: f64 = self.rng.random();
        if r < 0.01 {
            row.trang_thai = "TU_CHOI";
            // Never after `now`: a row changed in the future would hold up the watermark.
            row.ngay_cap_nhat = self.local((received + Duration::minutes(30)).min(now));
            return row;
        }
        if r < 0.02 {
            row.trang_thai = "RUT_HO_SO";
            let changed = self.between(received, now);
            row.ngay_cap_nhat = self.local(changed);
            return row;
        }
        if channel == 2 && now - received < Duration::days(1) && r < 0.3 {
            row.trang_thai = "CHO_TIEP_NHAN";
            return row;
        }
        let late = self.rng.random_bool(p.late_share);
        let finish = if late {
            (self.due)(due, self.rng.random_range(1..=5))
        } else {
            let allowed = (due - received).num_seconds().max(60);
            received + Duration::seconds((allowed as f64 * self.rng.random_range(0.25..1.0)) as i64)
        };
        if finish <= now {
            row.ngay_co_ket_qua = Some(self.local(finish));
            row.trang_thai = if self.rng.random_bool(0.8) {
                "DA_TRA_KET_QUA"
            } else {
                "CO_KET_QUA"
            };
            row.ngay_cap_nhat = self.local(finish.min(now));
            return row;
        }
        let open: f64 = self.rng.random();
        row.trang_thai = match open {
            x if x < 0.06 => "YEU_CAU_BO_SUNG",
            x if x < 0.08 => "CHO_THANH_TOAN",
            x if x < 0.09 => "DUNG_XU_LY",
            _ if now - received < Duration::hours(4) => "DA_TIEP_NHAN",
            _ => processing_status(p.department),
        };
        let changed = self.between(received, now);
        row.ngay_cap_nhat = self.local(changed);
        row
    }

    /// A dossier received just now.
    pub fn fresh(&mut self, now: DateTime<Utc>) -> DemoRow {
        let p = *self.procedure();
        let channel = if self.rng.random_bool(0.5) { 2 } else { 1 };
        let due = (self.due)(now, p.working_days);
        let mut row = self.base(&p, channel, now, due);
        row.trang_thai = if channel == 2 {
            "CHO_TIEP_NHAN"
        } else {
            "DA_TIEP_NHAN"
        };
        row
    }

    fn base(
        &mut self,
        p: &Procedure,
        channel: i64,
        received: DateTime<Utc>,
        due: DateTime<Utc>,
    ) -> DemoRow {
        DemoRow {
            ma_ho_so: self.next_id(received),
            ma_thu_tuc: p.code,
            ten_thu_tuc: p.name,
            ma_don_vi: p.department,
            kenh_nop: channel,
            ngay_tiep_nhan: self.local(received),
            ngay_hen_tra: Some(self.local(due)),
            ngay_co_ket_qua: None,
            trang_thai: "DA_TIEP_NHAN",
            ngay_cap_nhat: self.local(received),
        }
    }

    fn between(&mut self, a: DateTime<Utc>, b: DateTime<Utc>) -> DateTime<Utc> {
        let span = (b - a).num_seconds().max(1);
        a + TimeDelta::seconds(self.rng.random_range(0..span))
    }

    /// The next status of an open dossier of `department` in the live trickle, or `None` to
    /// leave it. A dossier handed over to a department's system moves on there instead.
    pub fn advance(&mut self, status: &str, department: &str) -> Option<&'static str> {
        let r: f64 = self.rng.random();
        Some(match status {
            "CHO_TIEP_NHAN" => "DA_TIEP_NHAN",
            "DA_TIEP_NHAN" => processing_status(department),
            "DANG_XU_LY" if r < 0.6 => "CO_KET_QUA",
            "DANG_XU_LY" if r < 0.7 => "YEU_CAU_BO_SUNG",
            "YEU_CAU_BO_SUNG" | "CHO_THANH_TOAN" => processing_status(department),
            "CO_KET_QUA" => "DA_TRA_KET_QUA",
            _ => return None,
        })
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }
}
