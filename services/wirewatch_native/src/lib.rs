//! Wirewatch's hot loops in Rust. Policy (constants, store records, verdicts) stays in
//! Python; these classes only hold numbers and compute.

use pyo3::prelude::*;

mod lsh;

#[pymodule]
fn wirewatch_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<lsh::LshIndex>()?;
    Ok(())
}
