//! Dedupe's in-memory LSH index (`wirewatch.processors.dedupe.LshIndex` subclasses it):
//! MinHash signature rows, band-key buckets and the nearest fresh candidate. In Python
//! `nearest` cost ~17 us a check (a numpy call per candidate, Python sets of rows) and `add`
//! ~5 us; here ~3 and ~2.5 us on the bench's stream, most of it the call's argument
//! conversion and cache misses in a table of ~30 keys an item. Band keys are computed by the
//! caller (`dedupe.band_keys`, numpy, a batch at once): this index only stores and compares.

use std::borrow::Cow;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use rustc_hash::FxHashMap;

/// A bucket's entry in the band-key map: a row, or (with this bit) an index into `lists`
/// for a key shared by several rows. Most keys hold a single row: 16-byte map entries, not 40
/// for an enum holding a vector (the 20,000 bench items' ~600k keys: ~16 MB, not ~40).
const MANY: u32 = 1 << 31;

/// Start loading a signature row into the cache, so the candidates' misses overlap.
// prefetching the candidates' rows before comparing: nearest 5.2 -> 4.8 us a check on the full bench index
// (alternating builds, shared machine); tests/processors/test_dedupe.py::test_nearest_is_the_most_equal_fresh_candidate_and_the_earliest_row_on_a_tie
#[inline(always)]
fn prefetch(values: &[u32]) {
    #[cfg(target_arch = "x86_64")]
    for line in values.chunks(16) {
        // SAFETY: a prefetch of an address inside a live slice; it never faults
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            )
        }
    }
}

/// Rows of `num_perm` u32 values with their item id, story, time and size (shingles), and
/// band key -> rows. A re-added item id's earlier row gets time -inf: it is never fresh again.
#[pyclass(module = "wirewatch_native", subclass)]
pub struct LshIndex {
    num_perm: usize,
    max_bucket: usize,
    sigs: Vec<u32>, // row-major, num_perm values a row
    times: Vec<f64>,
    ids: Vec<Py<PyString>>,
    stories: Vec<Py<PyString>>,
    sizes: Vec<i64>,
    row_of: FxHashMap<Box<[u8]>, u32>, // item id (its id_key) -> its newest row
    buckets: FxHashMap<u64, u32>,      // band key -> a row, or MANY | an index into lists
    lists: Vec<Vec<u32>>,              // rows of the keys shared by several, oldest first
}

/// An item id as a map key: its UTF-8 bytes, or for a str holding a lone surrogate (which
/// has no UTF-8; the pipeline's schema check refuses such items, a direct caller may not) its
/// "surrogatepass" bytes, which no valid UTF-8 equals.
fn id_key<'a>(id: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, [u8]>> {
    match id.to_str() {
        Ok(text) => Ok(Cow::Borrowed(text.as_bytes())),
        Err(_) => Ok(Cow::Owned(
            id.call_method1("encode", ("utf-8", "surrogatepass"))?
                .extract()?,
        )),
    }
}

/// How many slots two signatures agree on (counted in u32 lanes: LLVM compares 4 a step).
fn shared(a: &[u32], b: &[u32]) -> i64 {
    a.iter().zip(b).map(|(x, y)| (x == y) as u32).sum::<u32>() as i64
}

impl LshIndex {
    fn row(&self, at: usize) -> &[u32] {
        &self.sigs[at * self.num_perm..(at + 1) * self.num_perm]
    }

    /// A signature (any buffer of u32, e.g. a numpy row) copied out, checked for its width.
    fn values(&self, py: Python<'_>, sig: &Bound<'_, PyAny>, rows: usize) -> PyResult<Vec<u32>> {
        let buffer = PyBuffer::<u32>::get(sig)?;
        if buffer.item_count() != rows * self.num_perm {
            return Err(PyValueError::new_err(format!(
                "expected {rows} signature(s) of {} uint32 values, got {} values",
                self.num_perm,
                buffer.item_count()
            )));
        }
        buffer.to_vec(py)
    }

    fn push(
        &mut self,
        id: Bound<'_, PyString>,
        story: Bound<'_, PyString>,
        sig: &[u32],
        bands: &[u64],
        ts: f64,
        size: i64,
    ) -> PyResult<()> {
        if self.ids.len() >= MANY as usize {
            return Err(PyValueError::new_err(
                "an LSH index holds at most 2**31 rows",
            ));
        }
        let row = self.ids.len() as u32;
        self.sigs.extend_from_slice(sig);
        self.times.push(ts);
        if let Some(earlier) = self.row_of.insert(id_key(&id)?.into(), row) {
            self.times[earlier as usize] = f64::NEG_INFINITY;
        }
        self.ids.push(id.unbind());
        self.stories.push(story.unbind());
        self.sizes.push(size);
        for &key in bands {
            match self.buckets.get_mut(&key) {
                None => {
                    self.buckets.insert(key, row);
                }
                Some(entry) if *entry & MANY == 0 => {
                    if self.lists.len() >= MANY as usize {
                        return Err(PyValueError::new_err(
                            "an LSH index holds at most 2**31 shared band keys",
                        ));
                    }
                    self.lists.push(vec![*entry, row]);
                    *entry = MANY | (self.lists.len() - 1) as u32;
                }
                Some(entry) => {
                    let rows = &mut self.lists[(*entry & !MANY) as usize];
                    rows.push(row);
                    if rows.len() > self.max_bucket {
                        rows.remove(0); // the oldest row leaves a full bucket
                    }
                }
            }
        }
        Ok(())
    }
}

#[pymethods]
impl LshIndex {
    #[new]
    #[pyo3(signature = (capacity, num_perm, max_bucket))]
    fn new(capacity: usize, num_perm: usize, max_bucket: usize) -> PyResult<Self> {
        if num_perm == 0 {
            return Err(PyValueError::new_err("num_perm must be at least 1"));
        }
        Ok(LshIndex {
            num_perm,
            max_bucket,
            sigs: Vec::with_capacity(capacity * num_perm),
            times: Vec::with_capacity(capacity),
            ids: Vec::with_capacity(capacity),
            stories: Vec::with_capacity(capacity),
            sizes: Vec::with_capacity(capacity),
            row_of: FxHashMap::default(),
            buckets: FxHashMap::default(),
            lists: Vec::new(),
        })
    }

    fn __len__(&self) -> usize {
        self.ids.len()
    }

    /// Item ids of every row, in row order.
    #[getter]
    fn ids(&self, py: Python<'_>) -> Vec<Py<PyString>> {
        self.ids.iter().map(|id| id.clone_ref(py)).collect()
    }

    /// Item id -> its newest row (a copy).
    #[getter]
    fn row_of<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for &row in self.row_of.values() {
            out.set_item(&self.ids[row as usize], row)?;
        }
        Ok(out)
    }

    /// Remember one signature under its band keys.
    #[allow(clippy::too_many_arguments)] // the Python signature, one argument a field
    #[pyo3(signature = (item_id, story, sig, bands, ts, size = 0))]
    fn add(
        &mut self,
        py: Python<'_>,
        item_id: Bound<'_, PyString>,
        story: Bound<'_, PyString>,
        sig: &Bound<'_, PyAny>,
        bands: Vec<u64>,
        ts: f64,
        size: i64,
    ) -> PyResult<()> {
        let values = self.values(py, sig, 1)?;
        self.push(item_id, story, &values, &bands, ts, size)
    }

    /// Many rows at once, in commit order: ``sigs`` a C-order (n, num_perm) uint32 matrix.
    #[allow(clippy::too_many_arguments)] // the Python signature, one argument a field
    fn add_rows(
        &mut self,
        py: Python<'_>,
        ids: Vec<Bound<'_, PyString>>,
        stories: Vec<Bound<'_, PyString>>,
        sigs: &Bound<'_, PyAny>,
        bands: Vec<Vec<u64>>,
        times: Vec<f64>,
        sizes: Vec<i64>,
    ) -> PyResult<()> {
        let n = ids.len();
        if stories.len() != n || bands.len() != n || times.len() != n || sizes.len() != n {
            return Err(PyValueError::new_err(
                "ids, stories, bands, times and sizes differ in length",
            ));
        }
        let values = self.values(py, sigs, n)?;
        self.sigs.reserve(n * self.num_perm);
        let rows = ids
            .into_iter()
            .zip(stories)
            .zip(values.chunks_exact(self.num_perm))
            .zip(bands)
            .zip(times)
            .zip(sizes);
        for (((((id, story), sig), keys), ts), size) in rows {
            self.push(id, story, sig, &keys, ts, size)?;
        }
        Ok(())
    }

    /// (share of equal slots, story) of the candidate sharing a band key with ``sig`` that
    /// agrees on most slots, among rows at least as new as ``oldest`` other than ``item_id``'s
    /// newest row; on a tie the earliest row (the story's first item). None without one.
    fn nearest(
        &self,
        py: Python<'_>,
        sig: &Bound<'_, PyAny>,
        bands: Vec<u64>,
        oldest: f64,
        item_id: Bound<'_, PyString>,
    ) -> PyResult<Option<(f64, Py<PyString>)>> {
        let mut found: Vec<u32> = Vec::new();
        for key in &bands {
            match self.buckets.get(key) {
                Some(&entry) if entry & MANY == 0 => found.push(entry),
                Some(&entry) => found.extend_from_slice(&self.lists[(entry & !MANY) as usize]),
                None => {}
            }
        }
        if found.is_empty() {
            return Ok(None);
        }
        let query = self.values(py, sig, 1)?;
        found.sort_unstable();
        found.dedup();
        let own = self.row_of.get(id_key(&item_id)?.as_ref()).copied();
        found.retain(|&row| Some(row) != own && self.times[row as usize] >= oldest);
        for &row in &found {
            prefetch(self.row(row as usize));
        }
        let (mut best, mut best_row) = (-1i64, None);
        for row in found {
            let at = row as usize;
            let count = shared(self.row(at), &query);
            if count > best {
                (best, best_row) = (count, Some(at));
            }
        }
        Ok(best_row.map(|at| {
            (
                best as f64 / self.num_perm as f64,
                self.stories[at].clone_ref(py),
            )
        }))
    }

    /// The rows at least as new as ``oldest``, in row order: (ids, stories, their signatures
    /// as native-endian uint32 bytes, times, sizes), to build a compacted index from.
    #[allow(clippy::type_complexity)]
    fn live<'py>(
        &self,
        py: Python<'py>,
        oldest: f64,
    ) -> PyResult<(
        Bound<'py, PyList>,
        Bound<'py, PyList>,
        Bound<'py, PyBytes>,
        Vec<f64>,
        Vec<i64>,
    )> {
        let keep: Vec<usize> = (0..self.ids.len())
            .filter(|&row| self.times[row] >= oldest)
            .collect();
        let ids = PyList::new(py, keep.iter().map(|&row| self.ids[row].clone_ref(py)))?;
        let stories = PyList::new(py, keep.iter().map(|&row| self.stories[row].clone_ref(py)))?;
        let width = self.num_perm * 4;
        let sigs = PyBytes::new_with(py, keep.len() * width, |out| {
            for (chunk, &row) in out.chunks_exact_mut(width).zip(&keep) {
                let values = self.row(row);
                for (bytes, value) in chunk.chunks_exact_mut(4).zip(values) {
                    bytes.copy_from_slice(&value.to_ne_bytes());
                }
            }
            Ok(())
        })?;
        let times = keep.iter().map(|&row| self.times[row]).collect();
        let sizes = keep.iter().map(|&row| self.sizes[row]).collect();
        Ok((ids, stories, sigs, times, sizes))
    }
}
