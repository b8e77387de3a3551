//! The numeric core of Wirewatch's events (`wirewatch.processors.events`), in Rust: the
//! per-item work there (about 30 us an item in Python, most of `wirewatch process`'s budget
//! for events) is string hashing, counting and float sums that a compiled loop does in a few.
//! The policy (constants, memory records, merges) stays in Python; this module only computes.

use pyo3::prelude::*;

mod features;
mod index;

#[pymodule]
fn wirewatch_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<index::EventCore>()?;
    m.add_class::<features::Featurer>()?;
    Ok(())
}
