//! Dedupe's shingle hashes (`wirewatch.processors.dedupe.signatures_and_sizes`): each token's
//! unit hashes from a cache, the shingle mix of a batch of texts, the fit rule, the short-text
//! hash and fmix64, with the constants Python passes in. A new token's unit hashes still come
//! from Python (`dedupe._unit_hashes`, called back), so the unit and crc32 rules live there
//! only; rensa's MinHash of the result stays in Python. In Python the cache's look-ups (a
//! `bytes.join` of a dict's values a text, ~80 ns a token: cache misses) and the numpy mix cost
//! ~0.2 s more over the bench's 20,000 items inside `wirewatch process` than this: one flat
//! table of 16-byte slots keyed by the str's own (cached) hash and one arena holding each
//! token's key bytes next to its hashes, a text's slots and entries prefetched before its
//! look-ups (without the prefetch, 0.16-0.23 s in a run instead of ~0.10).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

/// A slot of the open-addressing table: the token's Python hash and where its entry starts in
/// the arena (`EMPTY`: a free slot). The entry is the unit count (u32), the key's UTF-8 bytes
/// (`len` of them) and the unit hashes (8 little-endian bytes each): one place to read on a hit.
#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    at: u32,
    len: u32,
}

const EMPTY: u32 = u32::MAX;
const FREE: Slot = Slot { hash: 0, at: EMPTY, len: 0 };

/// The token -> unit hashes cache, and the shingle rules over unit hashes.
#[pyclass(module = "wirewatch_native")]
pub struct Shingler {
    unit_hashes: Py<PyAny>,
    mix1: u64,
    mix2: u64,
    fmix1: u64,
    fmix2: u64,
    fmix_shift: u32,
    char_flag: u64,
    word_shingle: usize,
    char_shingle: usize,
    slots: Vec<Slot>, // a power of two long, at most half full
    arena: Vec<u8>,
    cached: usize,
    units: Vec<u64>, // the current batch's unit hashes (scratch, kept for its capacity)
}

impl Shingler {
    /// MurmurHash3's fmix64 with the given constants (wrapping u64, as numpy's uint64).
    fn fmix64(&self, mut x: u64) -> u64 {
        x ^= x >> self.fmix_shift;
        x = x.wrapping_mul(self.fmix1);
        x ^= x >> self.fmix_shift;
        x = x.wrapping_mul(self.fmix2);
        x ^ (x >> self.fmix_shift)
    }

    /// The mix (before fmix64) of one shingle's unit hashes: h0 * MIX1 + h1, times MIX1 plus h2...
    fn mix(&self, units: &[u64]) -> u64 {
        units[1..].iter().fold(units[0], |m, &h| m.wrapping_mul(self.mix1).wrapping_add(h))
    }

    /// How many units the shingle starting at a unit spans: a character of an unspaced
    /// script (its hash has `char_flag` set) starts a longer one than a word.
    fn length(&self, unit: u64) -> usize {
        if unit & self.char_flag != 0 {
            self.char_shingle
        } else {
            self.word_shingle
        }
    }

    /// Appends one text's shingle hashes (before fmix64): the shingle starting at each unit
    /// that fits in the text, or, with none, the one hash of the whole (short) text.
    fn text_shingles(&self, units: &[u64], out: &mut Vec<u64>) {
        let before = out.len();
        for i in 0..units.len() {
            let end = i + self.length(units[i]);
            if end <= units.len() {
                out.push(self.mix(&units[i..end]));
            }
        }
        if out.len() == before {
            let sum = units.iter().fold(0u64, |s, &h| s.wrapping_add(h));
            out.push(sum.wrapping_mul(self.mix2).wrapping_add(units.len() as u64));
        }
    }

    /// Appends a token's unit hashes to `self.units`, from the cache or (first sight) from
    /// Python; the cache is emptied first when it holds more than `max_cached` tokens.
    fn push_token(&mut self, token: &Bound<'_, PyAny>, hash: u64, max_cached: usize) -> PyResult<()> {
        let token = token.downcast::<PyString>()?;
        let Ok(key) = token.to_str() else {
            // a lone surrogate has no UTF-8 key: not cached, Python decides (and raises)
            return self.push_computed(token);
        };
        let key = key.as_bytes();
        let mask = self.slots.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            let slot = self.slots[at];
            if slot.at == EMPTY {
                break;
            }
            if slot.hash == hash && slot.len as usize == key.len() {
                let start = slot.at as usize;
                let n = u32::from_le_bytes(self.arena[start..start + 4].try_into().unwrap()) as usize;
                let key_end = start + 4 + key.len();
                if &self.arena[start + 4..key_end] == key {
                    let values = &self.arena[key_end..key_end + 8 * n];
                    self.units.extend(values.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().unwrap())));
                    return Ok(());
                }
            }
            at = (at + 1) & mask;
        }
        let first = self.units.len();
        self.push_computed(token)?;
        if self.cached > max_cached || self.arena.len() > (EMPTY as usize) / 2 {
            self.clear();
        }
        self.insert(hash, key, first)
    }

    /// Appends a token's unit hashes computed by Python's `_unit_hashes` (little-endian u64s).
    fn push_computed(&mut self, token: &Bound<'_, PyString>) -> PyResult<()> {
        let value = self.unit_hashes.bind(token.py()).call1((token,))?;
        let bytes = value.downcast::<PyBytes>()?.as_bytes();
        self.units.extend(bytes.chunks_exact(8).map(|b| u64::from_le_bytes(b.try_into().unwrap())));
        Ok(())
    }

    /// Caches a token's unit hashes (`self.units[first..]`), growing the table past half full.
    fn insert(&mut self, hash: u64, key: &[u8], first: usize) -> PyResult<()> {
        if 2 * (self.cached + 1) > self.slots.len() {
            self.grow();
        }
        let start = self.arena.len();
        let n = self.units.len() - first;
        self.arena.extend_from_slice(&(n as u32).to_le_bytes());
        self.arena.extend_from_slice(key);
        for h in &self.units[first..] {
            self.arena.extend_from_slice(&h.to_le_bytes());
        }
        let slot = Slot { hash, at: start as u32, len: key.len() as u32 };
        self.place(slot);
        self.cached += 1;
        Ok(())
    }

    fn place(&mut self, slot: Slot) {
        let mask = self.slots.len() - 1;
        let mut at = slot.hash as usize & mask;
        while self.slots[at].at != EMPTY {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    fn grow(&mut self) {
        let bigger = vec![FREE; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, bigger);
        for slot in old.into_iter().filter(|s| s.at != EMPTY) {
            self.place(slot);
        }
    }

    fn clear(&mut self) {
        self.slots.fill(FREE);
        self.arena.clear();
        self.cached = 0;
    }

    /// The tokens of one text (a list, a tuple or any iterable), at most `max_tokens` of them,
    /// appended as unit hashes. First every token's table slot, then the arena entries of
    /// those holding its hash are prefetched, so the cache misses of a text's look-ups overlap.
    fn push_text(&mut self, tokens: &Bound<'_, PyAny>, max_tokens: usize, max_cached: usize) -> PyResult<()> {
        let mut text: Vec<Bound<'_, PyAny>> = Vec::new();
        if let Ok(list) = tokens.downcast::<PyList>() {
            text.extend(list.iter().take(max_tokens));
        } else if let Ok(tuple) = tokens.downcast::<PyTuple>() {
            text.extend(tuple.iter().take(max_tokens));
        } else {
            for token in tokens.try_iter()?.take(max_tokens) {
                text.push(token?);
            }
        }
        let mask = self.slots.len() - 1;
        let mut hashes = Vec::with_capacity(text.len());
        for token in &text {
            let hash = token.hash()? as u64;
            prefetch(&self.slots[hash as usize & mask]);
            hashes.push(hash);
        }
        for &hash in &hashes {
            let slot = self.slots[hash as usize & mask];
            if slot.at != EMPTY && slot.hash == hash {
                prefetch(&self.arena[slot.at as usize]);
            }
        }
        for (token, hash) in text.iter().zip(hashes) {
            self.push_token(token, hash, max_cached)?;
        }
        Ok(())
    }
}

/// Start loading a value into the cache; it never faults.
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch of a live reference's address
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((value as *const T).cast())
    }
}

/// The hashes as native-endian bytes (what `numpy.frombuffer(..., uint64)` reads without a copy).
fn as_bytes<'py>(py: Python<'py>, values: &[u64]) -> Bound<'py, PyBytes> {
    PyBytes::new_with(py, values.len() * 8, |buffer| {
        for (chunk, value) in buffer.chunks_exact_mut(8).zip(values) {
            chunk.copy_from_slice(&value.to_ne_bytes());
        }
        Ok(())
    })
    .expect("writing into a new bytes object cannot fail")
}

#[pymethods]
impl Shingler {
    #[new]
    #[pyo3(signature = (unit_hashes, *, mix1, mix2, fmix1, fmix2, fmix_shift, char_flag, word_shingle, char_shingle))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        unit_hashes: Py<PyAny>,
        mix1: u64,
        mix2: u64,
        fmix1: u64,
        fmix2: u64,
        fmix_shift: u32,
        char_flag: u64,
        word_shingle: usize,
        char_shingle: usize,
    ) -> PyResult<Self> {
        if word_shingle == 0 || char_shingle == 0 || fmix_shift >= 64 {
            return Err(pyo3::exceptions::PyValueError::new_err("shingle lengths must be >= 1 and fmix_shift < 64"));
        }
        Ok(Self {
            unit_hashes,
            mix1,
            mix2,
            fmix1,
            fmix2,
            fmix_shift,
            char_flag,
            word_shingle,
            char_shingle,
            slots: vec![FREE; 1 << 12],
            arena: Vec::new(),
            cached: 0,
            units: Vec::new(),
        })
    }

    /// Number of tokens in the cache.
    fn __len__(&self) -> usize {
        self.cached
    }

    /// The unit hashes of the tokens, in order, as native-endian u64 bytes (through the cache).
    fn unit_hashes<'py>(&mut self, tokens: &Bound<'py, PyAny>, max_cached: usize) -> PyResult<Bound<'py, PyBytes>> {
        self.units.clear();
        let done = self.push_text(tokens, usize::MAX, max_cached);
        let out = as_bytes(tokens.py(), &self.units);
        self.units.clear();
        done.map(|()| out)
    }

    /// Each text's shingle hashes after fmix64, flat (native-endian u64 bytes), and the
    /// offsets of the texts in them (`len(token_lists) + 1`, the first 0): the input of
    /// rensa's `digest_matrix_from_flat_token_hashes`. A text is its first `max_tokens` tokens.
    fn shingle_hashes<'py>(
        &mut self,
        token_lists: &Bound<'py, PyAny>,
        max_tokens: usize,
        max_cached: usize,
    ) -> PyResult<(Bound<'py, PyBytes>, Vec<usize>)> {
        let mut out: Vec<u64> = Vec::new();
        let mut offsets = vec![0];
        for tokens in token_lists.try_iter()? {
            self.units.clear();
            let done = self.push_text(&tokens?, max_tokens, max_cached);
            if done.is_err() {
                self.units.clear();
                done?;
            }
            let units = std::mem::take(&mut self.units);
            self.text_shingles(&units, &mut out);
            self.units = units;
            offsets.push(out.len());
        }
        self.units.clear();
        for value in out.iter_mut() {
            *value = self.fmix64(*value);
        }
        Ok((as_bytes(token_lists.py(), &out), offsets))
    }

    /// The hash of one shingle from its units' hashes (the mix, then fmix64).
    fn shingle_hash(&self, unit_hashes: Vec<u64>) -> PyResult<u64> {
        if unit_hashes.is_empty() {
            return Err(pyo3::exceptions::PyValueError::new_err("a shingle has at least one unit"));
        }
        Ok(self.fmix64(self.mix(&unit_hashes)))
    }
}
