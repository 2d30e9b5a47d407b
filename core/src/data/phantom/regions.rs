//! Connected regions of a binary mask, as the oracles find them: neighbourhoods (4 or 8),
//! components and centroids.

use ndarray::Array2;

/// Which pixels touch: the 4 sharing an edge, or the 8 sharing an edge or a corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connectivity {
    /// Edge neighbours.
    Four,
    /// Edge and corner neighbours.
    Eight,
}

impl Connectivity {
    fn offsets(self) -> &'static [(isize, isize)] {
        match self {
            Self::Four => &[(-1, 0), (1, 0), (0, -1), (0, 1)],
            Self::Eight => &[(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)],
        }
    }

    /// The neighbours of `p` (row, col) inside an image of `dim`.
    pub fn neighbours(self, (r, c): (usize, usize), (h, w): (usize, usize)) -> impl Iterator<Item = (usize, usize)> {
        self.offsets()
            .iter()
            .map(move |&(dr, dc)| (r.wrapping_add_signed(dr), c.wrapping_add_signed(dc)))
            .filter(move |&(nr, nc)| nr < h && nc < w)
    }
}

/// The connected regions of the set pixels of `mask`, each as a list of (row, col).
pub fn components(mask: &Array2<bool>, connectivity: Connectivity) -> Vec<Vec<(usize, usize)>> {
    let mut seen = Array2::from_elem(mask.dim(), false);
    let mut out = Vec::new();
    for start in ndarray::indices(mask.dim()) {
        if seen[start] || !mask[start] {
            continue;
        }
        seen[start] = true;
        let (mut stack, mut region) = (vec![start], Vec::new());
        while let Some(p) = stack.pop() {
            region.push(p);
            for n in connectivity.neighbours(p, mask.dim()) {
                if mask[n] && !seen[n] {
                    seen[n] = true;
                    stack.push(n);
                }
            }
        }
        out.push(region);
    }
    out
}

/// Centroid (x, y) of a region's pixel centres.
pub fn centroid(points: &[(usize, usize)]) -> (f32, f32) {
    let n = points.len() as f32;
    points.iter().fold((0.0, 0.0), |(x, y), p| (x + (p.1 as f32 + 0.5) / n, y + (p.0 as f32 + 0.5) / n))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn diagonal_pixels_join_only_under_eight_connectivity() {
        let mask = ndarray::array![[true, false, false], [false, true, false], [false, false, false]];
        assert_eq!(components(&mask, Connectivity::Four).len(), 2);
        let eight = components(&mask, Connectivity::Eight);
        assert_eq!(eight.len(), 1);
        assert_eq!(centroid(&eight[0]), (1.0, 1.0));
        assert_eq!(Connectivity::Four.neighbours((0, 0), (3, 3)).count(), 2);
        assert_eq!(Connectivity::Eight.neighbours((1, 1), (3, 3)).count(), 8);
    }
}
