//! Compaction for kvstore: rewrite live records into a fresh segment.

use std::collections::HashMap;
use std::io::{self, Write};

use crate::segment::Segment;

/// Bytes of dead records that trigger a compaction.
pub const THRESHOLD: u64 = 1 << 20;

/// What a compaction did.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub kept: usize,
    pub dropped: usize,
    elapsed_ms: u64,
}

/// Something that can be compacted.
pub trait Compact {
    /// Rewrites live records; returns what it did.
    fn compact(&mut self) -> io::Result<Stats>;

    fn needs_compaction(&self) -> bool {
        false
    }
}

pub enum Policy {
    Never,
    Threshold(u64),
}

impl Stats {
    /// Share of records kept.
    pub fn ratio(&self) -> f64 {
        ratio(self.kept, self.kept + self.dropped)
    }

    fn reset(&mut self) {
        *self = Stats::default();
    }
}

impl Compact for Segment {
    fn compact(&mut self) -> io::Result<Stats> {
        let mut live: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for (k, v) in self.scan()? {
            live.insert(k, v);
        }
        let mut out = self.fresh()?;
        for (k, v) in &live {
            out.write_all(&encode(k, v))?;
        }
        Ok(Stats { kept: live.len(), ..Stats::default() })
    }
}

macro_rules! percent {
    ($n:expr) => {
        $n * 100.0
    };
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 1.0 } else { percent!(part as f64 / whole as f64) / 100.0 }
}
