//! The per-item core of Wirewatch's events (`wirewatch.processors.events`), in Rust: it is
//! string hashing, counting and float sums, ~53 us an item in Python inside `wirewatch process`
//! and ~21 here (README "Events"). The policy (constants, memory records, merges) stays in
//! Python; this module only computes, with the constants Python passes in. `lsh`: dedupe's
//! LSH index (`wirewatch.processors.dedupe.LshIndex` subclasses it; README "Dedupe in every script");
//! `shingles`: dedupe's token-hash cache and shingle hashes.

use pyo3::prelude::*;

mod features;
mod index;
mod lsh;
mod shingles;

#[pymodule]
fn wirewatch_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<index::EventCore>()?;
    m.add_class::<features::Featurer>()?;
    m.add_class::<lsh::LshIndex>()?;
    m.add_class::<shingles::Shingler>()?;
    Ok(())
}
