//! What this measures: the memory one installed flow costs, with 1,000,000 Dragonflow learned
//! flows (`common/learned.rs`) in table 52. Not a criterion bench: it prints numbers.
//!
//! Two views of the same load:
//! - live heap bytes: a counting global allocator adds up what is allocated and freed, so
//!   `(live after - live before) / flows` is exactly what the pipeline keeps per flow (both
//!   left-right copies of the table, the rules, their keys, counters, shared shapes and action
//!   lists, the hash tables' spare capacity), without the allocator's own overhead;
//! - resident set: `/proc/self/statm` before and after, which adds the allocator's overhead
//!   and fragmentation (glibc malloc here), as `ps` would show it for a switch process.
//!
//! The flows are applied through `Pipeline::apply` in batches of 1,000, each batch built just
//! before it is applied and freed after, so the flow mods themselves are not counted. A second
//! run measures a bare `Classifier` (one copy, no editor) for comparison.
//!
//! Run: `cargo bench --bench flow_memory`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wyvern_pipeline::classifier::Classifier;
use wyvern_pipeline::rule::{MatchShape, Rule};
use wyvern_pipeline::{Pipeline, PipelineConfig};

mod common {
    pub mod learned;
}
use common::learned::{VMS, learned_adds, learned_instructions, learned_match, learned_spec};

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are this allocator's; the counter is only arithmetic on the sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` (through `alloc`) with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` was allocated by `System` with `layout`; the caller upholds the rest.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const FLOWS: u32 = 1_000_000;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Resident set size in bytes.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn report(what: &str, heap: usize, rss: Option<usize>) {
    let n = f64::from(FLOWS);
    let rss = rss.map_or_else(
        || "RSS not comparable (reuses the memory the first run freed)".to_owned(),
        |r| format!("{:.1} RSS bytes/flow", r as f64 / n),
    );
    println!(
        "flow_memory/{what}: {:.1} heap bytes/flow, {rss} ({FLOWS} flows)",
        heap as f64 / n
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter that does not match skips the run.
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    if !"flow_memory".contains(&filter) && !filter.contains("flow_memory") {
        return;
    }

    let (h0, r0) = (live(), rss());
    let p = Pipeline::new(PipelineConfig::default());
    let mut i = 0;
    while i < FLOWS {
        let batch = learned_adds(i..i + 1000);
        p.apply(&batch).expect("adds apply");
        i += 1000;
    }
    let (h1, r1) = (live(), rss());
    assert_eq!(p.table_stats()[52].active, FLOWS as usize);
    report("pipeline_apply", h1 - h0, Some(r1.saturating_sub(r0)));
    drop(p);

    // One bare classifier holding the same rules (shapes and action lists shared as the
    // editor's interner shares them).
    let h0 = live();
    let shape = Arc::new(MatchShape::of(&learned_match(0)));
    let insts: Vec<_> = (0..VMS)
        .map(|d| Arc::new(learned_instructions(d)))
        .collect();
    let mut c = Classifier::new();
    for i in 0..FLOWS {
        c.insert(Arc::new(Rule::new(
            &learned_spec(i),
            shape.clone(),
            insts[(i % VMS) as usize].clone(),
            0,
        )));
    }
    report("classifier_raw", live() - h0, None);
    println!(
        "flow_memory: size_of::<Rule>() = {} bytes (+16 for the Arc header)",
        std::mem::size_of::<Rule>()
    );
    drop(c);
}
