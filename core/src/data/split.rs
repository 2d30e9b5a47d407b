//! Splitting a labelled set for validation: a stratified, seeded hold-out, so that a head is
//! measured on latents it was not fitted on even when a data set comes without a validation split.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Rows `0..labels.len()` split into (kept, held out): of each label's rows, `fraction` of them
/// (rounded, at least one of a label with two or more rows, never all) are held out, chosen by a
/// shuffle seeded with `seed`. Both lists are in increasing order.
pub fn stratified_holdout(labels: &[i64], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut kept, mut held) = (Vec::new(), Vec::new());
    for class in classes {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rows.shuffle(&mut rng);
        let n = rows.len();
        let out = if n < 2 { 0 } else { ((fraction * n as f64).round() as usize).clamp(1, n - 1) };
        held.extend_from_slice(&rows[..out]);
        kept.extend_from_slice(&rows[out..]);
    }
    kept.sort_unstable();
    held.sort_unstable();
    (kept, held)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn every_class_is_held_out_in_proportion() {
        let labels: Vec<i64> = (0..100).map(|i| if i < 80 { 0 } else { 1 + (i % 2) }).collect();
        let (kept, held) = stratified_holdout(&labels, 0.25, 7);
        assert_eq!(kept.len() + held.len(), 100);
        let count = |rows: &[usize], c: i64| rows.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!((count(&held, 0), count(&held, 1), count(&held, 2)), (20, 3, 3), "2.5 rounds to 3");
        assert_eq!(stratified_holdout(&labels, 0.25, 7), (kept.clone(), held.clone()), "seeded");
        assert_ne!(stratified_holdout(&labels, 0.25, 8).1, held, "another seed, other rows");
        // A class of one stays on the fitting side; a tiny fraction still holds one out.
        let (kept, held) = stratified_holdout(&[0, 0, 0, 1], 0.01, 0);
        assert_eq!((kept.len(), held.len()), (3, 1));
        assert!(held.iter().all(|&i| i < 3));
    }
}
