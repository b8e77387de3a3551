//! `event_features`: stop words out, words cut to a stem, numbers as `#`, Han/Hiragana
//! characters as pairs `~`, word pairs in quotes `"`, entities `@`. What Python and the
//! analyser define is asked of them, so the features are Python's to the character: Unicode
//! classes of non-ASCII tokens (`str.isalpha`, `\d`, the analyser's `CHARACTER_TOKEN`), the
//! words of a quote (the analyser's `tokenize`), an entity's lower case (`str.lower`).

use std::borrow::Cow;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};
use rustc_hash::FxHashSet;

/// One language's feature maker (its stop words are hashed once, not per item).
#[pyclass(module = "wirewatch_native", frozen)]
pub struct Featurer {
    stops: FxHashSet<String>,
    stem: usize,
    lead_tokens: usize,
    is_character: PyObject, // CHARACTER_TOKEN.match
    has_digit: PyObject,    // the \d regex's search
    tokenize: PyObject,     // the analyser's tokenize
}

/// The quotation marks a quote opens and closes with (any with any: feeds mix them).
const QUOTE_MARKS: [char; 12] = ['"', '“', '”', '«', '»', '„', '「', '『', '‹', '›', '』', '」'];
/// Characters between the marks: shorter is a scare quote, longer a lost closing mark.
const QUOTE_CHARS: std::ops::RangeInclusive<usize> = 6..=400;

/// What is inside quotation marks, left to right: a mark, 6-400 other characters, a mark; a
/// closing mark is not reused as an opening one, a mark that closes nothing opens.
fn quotes(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut open: Option<(usize, usize)> = None; // (where the quote starts, characters since)
    for (at, c) in text.char_indices() {
        let mark = if c.is_ascii() { c == '"' } else { QUOTE_MARKS.contains(&c) };
        if !mark {
            if let Some((_, n)) = &mut open {
                *n += 1;
            }
            continue;
        }
        match open {
            Some((start, n)) if QUOTE_CHARS.contains(&n) => {
                out.push(&text[start..at]);
                open = None;
            }
            _ => open = Some((at + c.len_utf8(), 0)),
        }
    }
    out
}

/// The first `n` characters (a slice: no copy until the result is made).
fn stem(token: &str, n: usize) -> Cow<'_, str> {
    match token.char_indices().nth(n) {
        Some((end, _)) => Cow::Borrowed(&token[..end]),
        None => Cow::Borrowed(token),
    }
}

fn truthy(value: PyResult<Bound<'_, PyAny>>) -> PyResult<bool> {
    value?.is_truthy()
}

impl Featurer {
    fn is_alpha(&self, tok: &Bound<'_, PyString>, s: &str) -> PyResult<bool> {
        if s.is_ascii() {
            return Ok(!s.is_empty() && s.bytes().all(|b| b.is_ascii_alphabetic()));
        }
        truthy(tok.call_method0(intern!(tok.py(), "isalpha")))
    }

    fn has_digit(&self, tok: &Bound<'_, PyString>, s: &str) -> PyResult<bool> {
        if s.is_ascii() {
            return Ok(s.bytes().any(|b| b.is_ascii_digit()));
        }
        truthy(self.has_digit.bind(tok.py()).call1((tok,)))
    }

    /// A one-character Han/Hiragana token (none is ASCII).
    fn is_character(&self, tok: &Bound<'_, PyString>, s: &str) -> PyResult<bool> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_ascii() => truthy(self.is_character.bind(tok.py()).call1((tok,))),
            _ => Ok(false),
        }
    }
}

#[pymethods]
impl Featurer {
    #[new]
    #[pyo3(signature = (*, stops, stem, lead_tokens, is_character, has_digit, tokenize))]
    fn new(
        stops: Vec<String>, stem: usize, lead_tokens: usize, is_character: PyObject, has_digit: PyObject,
        tokenize: PyObject,
    ) -> Self {
        Self { stops: stops.into_iter().collect(), stem, lead_tokens, is_character, has_digit, tokenize }
    }

    /// The sorted features of the title's and the first `lead_tokens` lead tokens, the word
    /// pairs of the quotes in `texts` and the `entities`' ids (or names).
    fn features(
        &self, title: &Bound<'_, PyAny>, lead: &Bound<'_, PyAny>, texts: &Bound<'_, PyAny>,
        entities: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyList>> {
        let py = title.py();
        let mut extra: Vec<String> = Vec::new();
        for text in texts.try_iter()? {
            let text = text?;
            for quote in quotes(text.downcast::<PyString>()?.to_str()?) {
                let words = self.tokenize.bind(py).call1((quote,))?;
                let mut previous: Option<Bound<'_, PyString>> = None;
                for word in words.try_iter()? {
                    let word = word?.downcast_into::<PyString>()?;
                    if self.stops.contains(word.to_str()?) {
                        continue;
                    }
                    if let Some(a) = &previous {
                        extra.push(format!("\"{} {}", a.to_str()?, word.to_str()?));
                    }
                    previous = Some(word);
                }
            }
        }
        for entity in entities.try_iter()? {
            let entity = entity?;
            let mut name = entity.call_method1(intern!(py, "get"), (intern!(py, "id"),))?;
            if !name.is_truthy()? {
                name = entity.call_method1(intern!(py, "get"), (intern!(py, "name"),))?;
            }
            if name.is_truthy()? {
                let lower = name.str()?.call_method0(intern!(py, "lower"))?;
                extra.push(format!("@{}", lower.downcast::<PyString>()?.to_str()?));
            }
        }
        let mut tokens: Vec<Bound<'_, PyString>> = Vec::new();
        for tok in title.try_iter()?.chain(lead.try_iter()?.take(self.lead_tokens)) {
            tokens.push(tok?.downcast_into::<PyString>()?);
        }
        let texts: Vec<&str> = tokens.iter().map(|t| t.to_str()).collect::<PyResult<_>>()?;
        let mut seen: FxHashSet<&str> = FxHashSet::with_capacity_and_hasher(texts.len(), Default::default());
        let mut out: FxHashSet<Cow<'_, str>> = FxHashSet::with_capacity_and_hasher(texts.len() + extra.len(), Default::default());
        out.extend(extra.iter().map(|e| Cow::Borrowed(e.as_str())));
        let mut characters = false; // a single Han/Hiragana token outside the stop words
        for (tok, &s) in tokens.iter().zip(&texts) {
            if self.stops.contains(s) || !seen.insert(s) {
                continue;
            }
            if s.chars().nth(1).is_none() {
                // single letters are no feature; Han and Hiragana ones make pairs below
                characters = characters || self.is_character(tok, s)?;
            } else if self.is_alpha(tok, s)? {
                out.insert(stem(s, self.stem));
            } else if self.has_digit(tok, s)? {
                out.insert(Cow::Owned(format!("#{s}")));
            } else {
                out.insert(stem(s, self.stem)); // "o'neill", "u.s."
            }
        }
        if characters {
            // pairs of neighbouring characters of one run, over all tokens in text order
            let mut previous: Option<&str> = None;
            for (tok, &s) in tokens.iter().zip(&texts) {
                let current = if self.is_character(tok, s)? { Some(s) } else { None };
                if let (Some(a), Some(b)) = (previous, current) {
                    out.insert(Cow::Owned(format!("~{a}{b}")));
                }
                previous = current;
            }
        }
        let mut sorted: Vec<Cow<'_, str>> = out.into_iter().collect();
        sorted.sort_unstable();
        Ok(PyList::new(title.py(), sorted)?.unbind())
    }
}
