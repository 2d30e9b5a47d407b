//! Splitting a labelled set for validation: a stratified, seeded hold-out and k folds for
//! cross-validation, so that a head is measured on latents it was not fitted on even when a data
//! set comes without a validation split.
//!
//! With groups (a patient or study id per row), every split keeps a group on one side: slices of
//! one patient are strongly correlated, and a split that puts them on both sides overstates every
//! figure. Groups are stratified by their most frequent label (as scikit-learn's
//! `StratifiedGroupKFold` balances them).

use std::collections::HashMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::{DaecfError, Result};

/// The rows that a split keeps together, in increasing order: one group's rows, or one row when
/// there are no groups.
type Unit = Vec<usize>;

/// The units of `labels` (grouped by `groups` when given) per stratum (a unit's most frequent
/// label, the smaller on a tie), in increasing label order, each stratum's units shuffled by `rng`.
fn shuffled_strata(labels: &[i64], groups: Option<&[String]>, rng: &mut ChaCha8Rng) -> Vec<Vec<Unit>> {
    let mut units: Vec<Unit> = Vec::new();
    match groups {
        Some(groups) => {
            let mut index: HashMap<&str, usize> = HashMap::new();
            for (row, group) in groups.iter().enumerate() {
                let next = units.len();
                let unit = *index.entry(group.as_str()).or_insert(next);
                if unit == next {
                    units.push(Vec::new());
                }
                units[unit].push(row);
            }
        }
        None => units.extend((0..labels.len()).map(|row| vec![row])),
    }
    let mut strata: Vec<(i64, Vec<Unit>)> = Vec::new();
    for rows in units {
        let stratum = majority(rows.iter().map(|&r| labels[r]));
        match strata.iter_mut().find(|(label, _)| *label == stratum) {
            Some((_, list)) => list.push(rows),
            None => strata.push((stratum, vec![rows])),
        }
    }
    strata.sort_by_key(|(label, _)| *label);
    strata
        .into_iter()
        .map(|(_, mut list)| {
            list.shuffle(rng);
            list
        })
        .collect()
}

/// The most frequent of `labels`, the smaller on a tie.
fn majority(labels: impl Iterator<Item = i64>) -> i64 {
    let mut counts: Vec<(i64, usize)> = Vec::new();
    for label in labels {
        match counts.iter_mut().find(|(l, _)| *l == label) {
            Some((_, n)) => *n += 1,
            None => counts.push((label, 1)),
        }
    }
    counts.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map_or(0, |(label, _)| label)
}

/// A hold-out of a labelled set: the rows kept for fitting and the rows held out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holdout {
    /// Rows kept, in increasing order.
    pub kept: Vec<usize>,
    /// Rows held out, in increasing order.
    pub held: Vec<usize>,
    /// Groups held out (0 without groups).
    pub held_groups: usize,
}

/// Rows `0..labels.len()` split into kept and held out: of each label's units (groups, or rows
/// without groups), `fraction` of them (rounded, at least one of a label with two or more units,
/// never all) are held out, chosen by a shuffle seeded with `seed`.
pub fn holdout(labels: &[i64], groups: Option<&[String]>, fraction: f64, seed: u64) -> Holdout {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut kept, mut held, mut held_groups) = (Vec::new(), Vec::new(), 0);
    for stratum in shuffled_strata(labels, groups, &mut rng) {
        let n = stratum.len();
        let out = if n < 2 { 0 } else { ((fraction * n as f64).round() as usize).clamp(1, n - 1) };
        for (k, unit) in stratum.into_iter().enumerate() {
            if k < out {
                held.extend(unit);
                held_groups += usize::from(groups.is_some());
            } else {
                kept.extend(unit);
            }
        }
    }
    kept.sort_unstable();
    held.sort_unstable();
    Holdout { kept, held, held_groups }
}

/// `k` folds of rows `0..labels.len()` for cross-validation: each fold's held-out rows, in
/// increasing order. Every unit (group, or row without groups) lies in one fold; each label's
/// units are dealt out shuffled (seeded with `seed`), the larger first, each to the fold with the
/// fewest rows of that label so far.
pub fn folds(labels: &[i64], groups: Option<&[String]>, k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let strata = shuffled_strata(labels, groups, &mut rng);
    let units: usize = strata.iter().map(Vec::len).sum();
    if k < 2 || k > units {
        let unit = if groups.is_some() { "group" } else { "labelled sample" };
        return Err(DaecfError::Config(format!(
            "cross-validation needs 2 to {units} folds (at most one per {unit}), not {k}"
        )));
    }
    let mut out = vec![Vec::new(); k];
    let mut total = vec![0usize; k];
    for mut stratum in strata {
        stratum.sort_by_key(|unit| std::cmp::Reverse(unit.len()));
        let mut in_stratum = vec![0usize; k];
        for unit in stratum {
            let fold = (0..k).min_by_key(|&f| (in_stratum[f], total[f])).unwrap_or(0);
            in_stratum[fold] += unit.len();
            total[fold] += unit.len();
            out[fold].extend(unit);
        }
    }
    out.iter_mut().for_each(|rows| rows.sort_unstable());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_class_is_held_out_in_proportion() {
        let labels: Vec<i64> = (0..100).map(|i| if i < 80 { 0 } else { 1 + (i % 2) }).collect();
        let split = holdout(&labels, None, 0.25, 7);
        let (kept, held) = (&split.kept, &split.held);
        assert_eq!(kept.len() + held.len(), 100);
        let count = |rows: &[usize], c: i64| rows.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!((count(held, 0), count(held, 1), count(held, 2)), (20, 3, 3), "2.5 rounds to 3");
        assert_eq!(holdout(&labels, None, 0.25, 7), split, "seeded");
        assert_ne!(holdout(&labels, None, 0.25, 8).held, split.held, "another seed, other rows");
        // A class of one stays on the fitting side; a tiny fraction still holds one out.
        let split = holdout(&[0, 0, 0, 1], None, 0.01, 0);
        assert_eq!((split.kept.len(), split.held.len()), (3, 1));
        assert!(split.held.iter().all(|&i| i < 3));
    }

    /// 30 patients of 4 slices each, patient p labelled p % 2 (slice 3 of every third patient
    /// labelled otherwise, so that a group's stratum is its majority).
    fn patients() -> (Vec<i64>, Vec<String>) {
        let rows: Vec<(i64, String)> = (0..120)
            .map(|r| {
                let p = r / 4;
                let label = if r % 4 == 3 && p % 3 == 0 { 1 - p as i64 % 2 } else { p as i64 % 2 };
                (label, format!("patient-{p}"))
            })
            .collect();
        rows.into_iter().unzip()
    }

    #[test]
    fn a_grouped_holdout_keeps_each_patient_on_one_side() {
        let (labels, groups) = patients();
        let split = holdout(&labels, Some(&groups), 0.2, 3);
        let held: std::collections::HashSet<&str> = split.held.iter().map(|&r| groups[r].as_str()).collect();
        assert!(split.kept.iter().all(|&r| !held.contains(groups[r].as_str())), "a patient on both sides");
        assert_eq!(split.held_groups, 6, "20 % of 15 patients per label, 3 + 3");
        assert_eq!((held.len(), split.held.len()), (6, 24));
        let ungrouped = holdout(&labels, None, 0.2, 3);
        assert_eq!(ungrouped.held_groups, 0);
        let mixed = ungrouped.held.iter().any(|&r| ungrouped.kept.iter().any(|&k| groups[k] == groups[r]));
        assert!(mixed, "without groups, slices of one patient fall on both sides");
    }

    #[test]
    fn folds_cover_every_row_once_and_keep_groups_whole() {
        let (labels, groups) = patients();
        for grouping in [None, Some(groups.as_slice())] {
            let folds = folds(&labels, grouping, 5, 1).unwrap();
            let mut all: Vec<usize> = folds.concat();
            all.sort_unstable();
            assert_eq!(all, (0..120).collect::<Vec<_>>());
            for fold in &folds {
                assert_eq!(fold.len(), 24, "{grouping:?}");
                let positives = fold.iter().filter(|&&r| labels[r] == 1).count();
                assert!((10..=14).contains(&positives), "stratified: {positives} of 24");
            }
            if grouping.is_some() {
                for (f, fold) in folds.iter().enumerate() {
                    let others = folds.iter().enumerate().filter(|(g, _)| *g != f).flat_map(|(_, rows)| rows);
                    let theirs: std::collections::HashSet<&String> = others.map(|&r| &groups[r]).collect();
                    assert!(fold.iter().all(|&r| !theirs.contains(&groups[r])), "fold {f} shares a patient");
                }
            }
        }
        assert_eq!(folds(&labels, None, 5, 1).unwrap(), folds(&labels, None, 5, 1).unwrap(), "seeded");
        let too_many = folds(&labels, Some(&groups), 31, 0).unwrap_err().to_string();
        assert!(too_many.contains("2 to 30 folds (at most one per group)"), "{too_many}");
        assert!(folds(&labels, None, 1, 0).is_err());
    }
}
