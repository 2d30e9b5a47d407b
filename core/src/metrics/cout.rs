//! COUT, the counterfactual-transition score of Khorram & Fuxin ("Cycle-Consistent
//! Counterfactuals by Latent Transformations", CVPR 2022), the figure DiME, ACE and FastDiME
//! report beside validity: does the classifier's belief move from the source class to the target
//! class as the counterfactual's changes are pasted into the image, largest first?
//!
//! As in their evaluation code: the pixels are ordered by |CE - image| summed over channels
//! (largest first); [`COUT_STEPS`] equal groups of them are pasted in turn, giving the path
//! image = x_0, x_1, ..., x_K = CE; the classifier scores every x_k. For a binary classifier with
//! logit v, the source class is the one it predicts for the image, p_source = sigmoid(+-v) and
//! p_target = 1 - p_source. COUT is the area under p_target minus the area under p_source along
//! the fraction of pixels pasted (trapezoids), in [-1, 1]: 1 when the first changed pixels
//! already flip a confident decision, about 0 when the changes leave the classifier unmoved,
//! negative when they move it the wrong way.

use ndarray::{Array4, ArrayView3, Axis};

/// The number of pixel groups pasted along the path (the reference code's 50).
pub const COUT_STEPS: usize = 50;

/// The path from `image` to its counterfactual `ce` (both [C, H, W]): `steps` + 1 images, the
/// first `image`, the last `ce`, each pasting the next group of the most changed pixels; and the
/// fraction of pixels pasted at each.
pub fn insertion_path(image: ArrayView3<f32>, ce: ArrayView3<f32>, steps: usize) -> (Array4<f32>, Vec<f64>) {
    let (c, h, w) = image.dim();
    let pixels = h * w;
    let change: Vec<f32> =
        (0..pixels).map(|p| (0..c).map(|k| (ce[[k, p / w, p % w]] - image[[k, p / w, p % w]]).abs()).sum()).collect();
    let mut order: Vec<usize> = (0..pixels).collect();
    order.sort_by(|&a, &b| change[b].total_cmp(&change[a]));
    let group = (pixels / steps.max(1)).max(1);
    let counts: Vec<usize> = (0..=pixels.div_ceil(group)).map(|k| (k * group).min(pixels)).collect();
    let mut path = Array4::zeros((counts.len(), c, h, w));
    let mut current = image.to_owned();
    let mut pasted = 0;
    for (k, &count) in counts.iter().enumerate() {
        for &p in &order[pasted..count] {
            for channel in 0..c {
                current[[channel, p / w, p % w]] = ce[[channel, p / w, p % w]];
            }
        }
        pasted = count;
        path.index_axis_mut(Axis(0), k).assign(&current);
    }
    let fractions = counts.iter().map(|&n| n as f64 / pixels.max(1) as f64).collect();
    (path, fractions)
}

/// COUT from a binary classifier's logits along an [`insertion_path`] (`logits[0]` the image's)
/// at the pasted `fractions`.
pub fn cout(logits: &[f32], fractions: &[f64]) -> f64 {
    let Some(&first) = logits.first() else { return 0.0 };
    let sign = if first > 0.0 { 1.0 } else { -1.0 };
    // p_target - p_source = 1 - 2 p_source.
    let gap: Vec<f64> = logits.iter().map(|&v| 1.0 - 2.0 * sigmoid(sign * v as f64)).collect();
    gap.windows(2).zip(fractions.windows(2)).map(|(g, f)| (g[0] + g[1]) / 2.0 * (f[1] - f[0])).sum()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn the_path_pastes_the_largest_changes_first() {
        let image = Array3::<f32>::zeros((1, 4, 5));
        let ce = Array3::from_shape_fn((1, 4, 5), |(_, y, x)| (y * 5 + x) as f32 / 20.0);
        let (path, fractions) = insertion_path(image.view(), ce.view(), 4);
        // 20 pixels in groups of 5: 0, 5, 10, 15, 20 pasted.
        assert_eq!(fractions, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        assert_eq!(path.index_axis(Axis(0), 0), image);
        assert_eq!(path.index_axis(Axis(0), 4), ce);
        // The first group: the last row, the most changed.
        let first = path.index_axis(Axis(0), 1);
        assert!(first.iter().filter(|&&v| v > 0.0).count() == 5 && first[[0, 3, 0]] > 0.0);
        // A count that does not divide: the last group is shorter, the path still ends at the CE.
        let (path, fractions) = insertion_path(image.view(), ce.view(), 3);
        assert_eq!(*fractions.last().unwrap(), 1.0);
        assert_eq!(path.index_axis(Axis(0), path.len_of(Axis(0)) - 1), ce);
    }

    #[test]
    fn cout_rewards_an_early_confident_flip() {
        let fractions = [0.0, 0.5, 1.0];
        let close = |got: f64, want: f64| assert!((got - want).abs() < 1e-3, "{got} vs {want}");
        // Flips confidently after the first half: the gap goes -1, 1, 1.
        close(cout(&[8.0, -8.0, -8.0], &fractions), 0.5);
        // Flips only with the last pixels (a negative source, read with its sign).
        close(cout(&[-8.0, -8.0, 8.0], &fractions), -0.5);
        // Never moves: -1.
        close(cout(&[8.0, 8.0, 8.0], &fractions), -1.0);
        // Unsure all along: 0.
        close(cout(&[1e-6, 0.0, 0.0], &fractions), 0.0);
        assert_eq!(cout(&[], &[]), 0.0);
    }
}
