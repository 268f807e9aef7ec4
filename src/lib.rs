//! The root package of the wyvern workspace: it holds the cross-crate tests in `tests/` and
//! the benchmarks in `benches/`. The switch itself lives in the member crates.
