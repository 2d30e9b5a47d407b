//! Image similarity for reconstructions and counterfactuals: mean absolute (L1) and squared
//! error, PSNR and SSIM
//! (Wang et al., IEEE TIP 2004: Gaussian window sigma 1.5, K1 = 0.01, K2 = 0.03, population
//! statistics, the choices of scikit-image's `structural_similarity(gaussian_weights=True)`),
//! on images in [0, 1] shaped [C, H, W]; SSIM is averaged over channels.

use ndarray::{Array2, ArrayView2, ArrayView3, Axis};

/// Mean absolute difference (L1 per pixel).
pub fn l1(a: ArrayView3<f32>, b: ArrayView3<f32>) -> f64 {
    let n = a.len().max(1) as f64;
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs() as f64).sum::<f64>() / n
}

/// Mean squared error.
pub fn mse(a: ArrayView3<f32>, b: ArrayView3<f32>) -> f64 {
    let n = a.len().max(1) as f64;
    a.iter().zip(b.iter()).map(|(x, y)| ((x - y) as f64).powi(2)).sum::<f64>() / n
}

/// Peak signal-to-noise ratio in dB for data range 1 (infinite for identical images).
pub fn psnr(a: ArrayView3<f32>, b: ArrayView3<f32>) -> f64 {
    -10.0 * mse(a, b).log10()
}

/// Structural similarity, the mean over channels of the mean SSIM map.
pub fn ssim(a: ArrayView3<f32>, b: ArrayView3<f32>) -> f64 {
    let channels = a.len_of(Axis(0)).max(1);
    a.outer_iter().zip(b.outer_iter()).map(|(x, y)| ssim_plane(x, y)).sum::<f64>() / channels as f64
}

/// Normalised 1-d Gaussian of sigma 1.5 truncated at 3.5 sigma (11 taps), as scikit-image.
fn gaussian() -> Vec<f64> {
    let (sigma, radius) = (1.5f64, 5i32);
    let w: Vec<f64> = (-radius..=radius).map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f64 = w.iter().sum::<f64>();
    w.into_iter().map(|v| v / sum).collect()
}

/// Separable Gaussian filter with reflected borders (scipy's `mode='reflect'`).
fn blur(x: &Array2<f64>, w: &[f64]) -> Array2<f64> {
    let (h, wd) = x.dim();
    let r = (w.len() / 2) as isize;
    let reflect = |i: isize, n: usize| -> usize {
        let n = n as isize;
        let mut i = i;
        while i < 0 || i >= n {
            i = if i < 0 { -i - 1 } else { 2 * n - i - 1 };
        }
        i as usize
    };
    let mut rows = Array2::<f64>::zeros((h, wd));
    for y in 0..h {
        for x0 in 0..wd {
            rows[[y, x0]] =
                w.iter().enumerate().map(|(k, c)| c * x[[y, reflect(x0 as isize + k as isize - r, wd)]]).sum::<f64>();
        }
    }
    let mut out = Array2::<f64>::zeros((h, wd));
    for y in 0..h {
        for x0 in 0..wd {
            out[[y, x0]] =
                w.iter().enumerate().map(|(k, c)| c * rows[[reflect(y as isize + k as isize - r, h), x0]]).sum::<f64>();
        }
    }
    out
}

fn ssim_plane(a: ArrayView2<f32>, b: ArrayView2<f32>) -> f64 {
    let (c1, c2) = (0.01f64.powi(2), 0.03f64.powi(2));
    let w = gaussian();
    let (x, y) = (a.mapv(f64::from), b.mapv(f64::from));
    let (mx, my) = (blur(&x, &w), blur(&y, &w));
    let (sxx, syy, sxy) = (blur(&(&x * &x), &w), blur(&(&y * &y), &w), blur(&(&x * &y), &w));
    let mut total = 0.0;
    for ((((&mx, &my), &sxx), &syy), &sxy) in mx.iter().zip(&my).zip(&sxx).zip(&syy).zip(&sxy) {
        let (vx, vy, cov) = (sxx - mx * mx, syy - my * my, sxy - mx * my);
        total += ((2.0 * mx * my + c1) * (2.0 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
    }
    total / mx.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn identical_images_and_constants_by_hand() {
        let a = Array3::from_shape_fn((1, 16, 16), |(_, y, x)| ((x * 7 + y * 3) % 11) as f32 / 10.0);
        assert!((ssim(a.view(), a.view()) - 1.0).abs() < 1e-12);
        assert!(psnr(a.view(), a.view()).is_infinite());
        // Constant images 0.2 and 0.4: no variance, SSIM = (2 * .08 + C1) / (.04 + .16 + C1).
        let (p, q) = (Array3::from_elem((2, 12, 12), 0.2f32), Array3::from_elem((2, 12, 12), 0.4f32));
        let want = (2.0 * 0.2 * 0.4 + 1e-4) / (0.04 + 0.16 + 1e-4);
        assert!((ssim(p.view(), q.view()) - want).abs() < 1e-6);
        assert!((mse(p.view(), q.view()) - 0.04).abs() < 1e-7);
        assert!((l1(p.view(), q.view()) - 0.2).abs() < 1e-7);
        assert!((psnr(p.view(), q.view()) - 10.0 * (1.0f64 / 0.04).log10()).abs() < 1e-4);
    }

    #[test]
    fn noise_lowers_ssim() {
        let a = Array3::from_shape_fn((1, 20, 20), |(_, y, x)| (x as f32 / 19.0) * (y as f32 / 19.0));
        let b =
            Array3::from_shape_fn((1, 20, 20), |(_, y, x)| a[[0, y, x]] + if (x + y) % 2 == 0 { 0.1 } else { -0.1 });
        let s = ssim(a.view(), b.view());
        assert!(s > 0.0 && s < 0.9, "{s}");
    }
}
