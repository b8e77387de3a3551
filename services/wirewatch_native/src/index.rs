//! The event index: rows of interned features, postings and document frequencies, and the
//! weighted Dice of an item against the rows sharing most of its features.

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use rustc_hash::FxHashMap;

/// One compared item: its sorted feature ids, weight, time and whether it states numbers.
struct Row {
    features: Vec<u32>,
    weight: f64,
    time: f64,
    numbers: bool,
}

/// An item's features as the index sees them: ids in the caller's (sorted string) order,
/// weights, and (id, weight) sorted by id for intersecting with rows.
struct Query {
    ids: Vec<u32>,
    by_id: Vec<(u32, f64)>,
    total: f64,
    numbers: bool,
}

/// What the index knows of a feature, in one place: a lookup touches one cache line or two,
/// not one per table (inside `wirewatch process` the index's memory is mostly out of cache).
struct Feature {
    boost: f64,   // its kind's boost (first character)
    df: u32,
    number: bool, // a number feature ('#')
    postings: Vec<u32>, // rows having it, up to the cap and one past; empty: none
}

/// Rows, postings and document frequencies over interned feature ids (u32: a row is a
/// few hundred bytes, not a list of Python strings).
#[pyclass(module = "wirewatch_native")]
pub struct EventCore {
    ids: FxHashMap<String, u32>,
    features: Vec<Feature>, // by id
    rows: Vec<Row>,
    counts: Vec<u32>,   // per row: scratch for candidate counting, zero between calls
    kinds: Vec<(char, f64)>,
    prior_docs: usize,
    posting_cap: usize,
    top_rows: usize,
    numbers_disagree: f64,
    log1p: Vec<f64>,
}

impl EventCore {
    fn intern(&mut self, feature: &str) -> u32 {
        if let Some(&id) = self.ids.get(feature) {
            return id;
        }
        let id = self.features.len() as u32;
        let kind = feature.chars().next();
        let boost = self.kinds.iter().find(|(k, _)| Some(*k) == kind).map_or(1.0, |(_, b)| *b);
        self.ids.insert(feature.to_owned(), id);
        self.features.push(Feature { boost, df: 0, number: kind == Some('#'), postings: Vec::new() });
        id
    }

    fn intern_all(&mut self, features: &Bound<'_, PyList>) -> PyResult<Vec<u32>> {
        let mut ids = Vec::with_capacity(features.len());
        for feature in features.iter() {
            ids.push(self.intern(feature.downcast::<PyString>()?.to_str()?));
        }
        Ok(ids)
    }

    /// IDF among the rows (and `prior_docs`) times the kind's boost; summed left to right,
    /// as Python's `sum` over the dict did, so the stored weight `w` is bit for bit the same.
    fn query(&mut self, features: &Bound<'_, PyList>) -> PyResult<Query> {
        let ids = self.intern_all(features)?;
        let top = ((self.rows.len() + self.prior_docs) as f64).ln();
        let most = self.log1p.len() - 1;
        let mut by_id = Vec::with_capacity(ids.len());
        let mut total = 0.0;
        let mut numbers = false;
        for &id in &ids {
            let f = &self.features[id as usize];
            let w = (top - self.log1p[(f.df as usize).min(most)]) * f.boost;
            total += w;
            numbers |= f.number;
            by_id.push((id, w));
        }
        by_id.sort_unstable_by_key(|&(id, _)| id);
        Ok(Query { ids, by_id, total, numbers })
    }
}

#[pymethods]
impl EventCore {
    /// The constants come from events.py (defined there once); `log1p[df]` is its table.
    #[new]
    #[pyo3(signature = (*, boost, prior_docs, posting_cap, top_rows, numbers_disagree, log1p))]
    fn new(
        boost: Vec<(String, f64)>, prior_docs: usize, posting_cap: usize, top_rows: usize,
        numbers_disagree: f64, log1p: Vec<f64>,
    ) -> PyResult<Self> {
        let mut kinds = Vec::new();
        for (kind, b) in boost {
            let mut chars = kind.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => kinds.push((c, b)),
                _ => return Err(pyo3::exceptions::PyValueError::new_err(format!("boost kind {kind:?}: one character"))),
            }
        }
        if log1p.is_empty() {
            return Err(pyo3::exceptions::PyValueError::new_err("log1p: an empty table"));
        }
        Ok(Self {
            ids: FxHashMap::default(), features: Vec::new(), rows: Vec::new(), counts: Vec::new(), kinds, prior_docs,
            posting_cap, top_rows, numbers_disagree, log1p,
        })
    }

    fn __len__(&self) -> usize {
        self.rows.len()
    }

    /// Each feature's weight (`features` sorted, as event_features gives them).
    fn weights(&mut self, features: &Bound<'_, PyList>) -> PyResult<Vec<f64>> {
        let q = self.query(features)?;
        let mut out = Vec::with_capacity(q.ids.len());
        for &id in &q.ids {
            out.push(q.by_id[q.by_id.binary_search_by_key(&id, |&(i, _)| i).unwrap()].1);
        }
        Ok(out)
    }

    /// (the features' total weight, [(similarity, row)] best first) among the `top_rows` rows
    /// sharing most features (ties: posting order, features sorted, rows ascending) newer than
    /// `oldest`. A posting longer than `posting_cap` finds no candidates.
    fn alike(&mut self, features: &Bound<'_, PyList>, oldest: f64) -> PyResult<(f64, Vec<(f64, usize)>)> {
        let q = self.query(features)?;
        if self.counts.len() < self.rows.len() {
            self.counts.resize(self.rows.len(), 0);
        }
        let mut seen: Vec<u32> = Vec::new(); // rows in first-counted order
        for &id in &q.ids {
            let rows = &self.features[id as usize].postings;
            if rows.len() > self.posting_cap {
                continue;
            }
            for &row in rows {
                let count = &mut self.counts[row as usize];
                if *count == 0 {
                    seen.push(row);
                }
                *count += 1;
            }
        }
        let mut ranked: Vec<(u32, u32)> = seen.iter().map(|&r| (r, std::mem::take(&mut self.counts[r as usize]))).collect();
        ranked.sort_by_key(|&(_, count)| std::cmp::Reverse(count)); // stable: ties keep counting order
        let mut out = Vec::new();
        for &(row, _) in ranked.iter().take(self.top_rows) {
            let r = &self.rows[row as usize];
            if r.time < oldest {
                continue;
            }
            let (shared, shared_number) = self.shared(&q.by_id, &r.features);
            let mut similarity = 2.0 * shared / (q.total + r.weight);
            if q.numbers && r.numbers && !shared_number {
                similarity *= self.numbers_disagree;
            }
            out.push((similarity, row as usize));
        }
        out.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        Ok((q.total, out))
    }

    /// Index a row (`features` sorted; `weight`: their total, as stored in the memory).
    fn add(&mut self, features: &Bound<'_, PyList>, weight: f64, time: f64) -> PyResult<()> {
        let row = self.rows.len() as u32;
        let mut ids = self.intern_all(features)?;
        let mut numbers = false;
        for &id in &ids {
            let f = &mut self.features[id as usize];
            f.df += 1;
            numbers |= f.number;
            if f.postings.len() <= self.posting_cap {
                f.postings.push(row); // a longer posting finds no candidates: stop it one past the cap
            }
        }
        ids.sort_unstable();
        self.rows.push(Row { features: ids, weight, time, numbers });
        Ok(())
    }
}

impl EventCore {
    /// The weight the item shares with a row (features by id, both sorted) and whether they
    /// share a number.
    fn shared(&self, mine: &[(u32, f64)], theirs: &[u32]) -> (f64, bool) {
        let (mut i, mut j, mut sum, mut number) = (0, 0, 0.0, false);
        while i < mine.len() && j < theirs.len() {
            let (id, w) = mine[i];
            match id.cmp(&theirs[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    sum += w;
                    number |= self.features[id as usize].number;
                    i += 1;
                    j += 1;
                }
            }
        }
        (sum, number)
    }
}
