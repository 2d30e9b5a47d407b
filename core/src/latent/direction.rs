//! The path a counterfactual's latent takes to its target distance.
//!
//! A head's signed distance is linear in z_sem: d(z) = a . z + c, with `a` the head's gradient
//! in raw z_sem space (its unit normal for a head on raw latents; n / (sigma |n|) for a head fitted
//! on standardised latents). Every direction u reaches exactly the distance D that eq. 4 or the
//! calibration asks for, by z' = z + (D - d(z)) / (a . u) u; only the path differs:
//!
//! - [`CeDirection::Normal`]: u along the head's normal in the space it was fitted in (for a
//!   head on raw latents u = a, the shortest move in Euclidean length; Atad et al., MELBA 2024,
//!   eq. 4). For a standardised head this is the next direction's move.
//! - [`CeDirection::Standardised`]: u = diag(Sigma) a, the move of the seed paper's editing
//!   code, which standardises z_sem, fits its classifier there and steps along that normal
//!   (mapped back to raw space: a diagonal-covariance move).
//! - [`CeDirection::Covariance`]: u = Sigma a, the smallest move in the latents' Mahalanobis norm
//!   (z' - z)^T Sigma^-1 (z' - z) that reaches the target: it moves along the directions the
//!   training latents vary in, which the decoder learned to render.
//!
//! Two controls, for diagnostics (`daecf evaluate-ce --direction ...`), reach the same distance
//! along a direction that ignores the head's normal, so a report can show how much of a move the
//! decoder draws when the move is not chosen for the head:
//!
//! - [`CeDirection::Principal`]: u along the training latents' first principal component (the
//!   direction they vary in most).
//! - [`CeDirection::Random`]: u along a fixed random direction (standard normal entries from the
//!   seed [`RANDOM_DIRECTION_SEED`]).
//!
//! Both are oriented so that the move raises the distance (a . u > 0); a control nearly
//! orthogonal to the normal takes a long move to reach the target.
//!
//! Sigma is the covariance of the head's training latents, shrunk towards a scaled identity by
//! the Ledoit-Wolf estimate of the shrinkage (Ledoit & Wolf, J. Multivariate Anal. 2004), so it is
//! well conditioned when the latents are fewer than their dimensions or nearly collinear. The
//! vectors u are fitted with the head ([`FittedDirections`]) and stored in its file.

use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::named::Named;
use crate::{DaecfError, Result};

/// The path of a counterfactual's latent move (see the module's doc for the formulas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CeDirection {
    /// Along the head's normal (the paper's eq. 4).
    #[default]
    Normal,
    /// Along diag(Sigma) a: the seed paper's editing code's move in standardised latents.
    Standardised,
    /// Along Sigma a: the smallest move in the training latents' Mahalanobis norm.
    Covariance,
    /// A control: along the training latents' first principal component.
    Principal,
    /// A control: along a fixed random direction.
    Random,
}

/// The seed of [`CeDirection::Random`]'s direction.
pub const RANDOM_DIRECTION_SEED: u64 = 0;

impl Named for CeDirection {
    const ALL: &'static [Self] = &[
        CeDirection::Normal,
        CeDirection::Standardised,
        CeDirection::Covariance,
        CeDirection::Principal,
        CeDirection::Random,
    ];
    const KIND: &'static str = "CE direction";

    fn name(self) -> &'static str {
        match self {
            CeDirection::Normal => "normal",
            CeDirection::Standardised => "standardised",
            CeDirection::Covariance => "covariance",
            CeDirection::Principal => "principal",
            CeDirection::Random => "random",
        }
    }
}

crate::impl_named_text!(CeDirection);

impl CeDirection {
    /// Whether this is a control direction, which ignores the head's normal.
    pub fn is_control(self) -> bool {
        matches!(self, CeDirection::Principal | CeDirection::Random)
    }

    /// Whether a head file leaves this direction out (the paper's, the default).
    pub(crate) fn is_normal(&self) -> bool {
        *self == CeDirection::Normal
    }
}

/// The move directions of one head, fitted on its training latents, in raw z_sem space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FittedDirections {
    /// diag(Sigma) a (see [`CeDirection::Standardised`]).
    pub standardised: Vec<f32>,
    /// Sigma a with the shrunk covariance (see [`CeDirection::Covariance`]).
    pub covariance: Vec<f32>,
    /// The training latents' first principal component, of unit length (see
    /// [`CeDirection::Principal`]); absent in heads fitted before it was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Vec<f32>>,
    /// The Ledoit-Wolf shrinkage of the covariance towards a scaled identity, in [0, 1].
    pub shrinkage: f32,
    /// How many training latents estimated them.
    pub samples: usize,
}

impl FittedDirections {
    /// Fits the directions for a head of gradient `gradient` on the rows of `latents`.
    pub fn fit(latents: ArrayView2<f32>, gradient: ArrayView1<f32>) -> Result<Self> {
        let (n, p) = latents.dim();
        if n < 2 || p != gradient.len() {
            return Err(DaecfError::Data(format!(
                "the CE directions need at least 2 training latents of the head's dimension {}; got {n} of {p}",
                gradient.len()
            )));
        }
        let x = centred(latents);
        let variances = x.map_axis(Axis(0), |c| c.dot(&c) / n as f64);
        let a = gradient.mapv(f64::from);
        let standardised = &variances * &a;
        let shrinkage = ledoit_wolf_shrinkage(&x);
        let mu = variances.sum() / p as f64;
        // Sigma a = (1 - s) X^T (X a) / n + s mu a, without forming Sigma.
        let empirical = x.t().dot(&x.dot(&a)) / n as f64;
        let covariance = empirical * (1.0 - shrinkage) + &a * (shrinkage * mu);
        let to_f32 = |v: Array1<f64>| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        let fitted = Self {
            standardised: to_f32(standardised),
            covariance: to_f32(covariance),
            principal: first_principal_component(&x).map(to_f32),
            shrinkage: shrinkage as f32,
            samples: n,
        };
        fitted.check(p)?;
        Ok(fitted)
    }

    /// The vector of `direction`, if it is one of the fitted ones.
    pub fn vector(&self, direction: CeDirection) -> Option<&[f32]> {
        match direction {
            CeDirection::Normal | CeDirection::Random => None,
            CeDirection::Standardised => Some(&self.standardised),
            CeDirection::Covariance => Some(&self.covariance),
            CeDirection::Principal => self.principal.as_deref(),
        }
    }

    /// Checks what a file could get wrong: vectors of the head's dimension `dim`, finite and
    /// non-zero, a shrinkage in [0, 1].
    pub fn check(&self, dim: usize) -> Result<()> {
        let usable = |v: &[f32]| v.len() == dim && v.iter().all(|x| x.is_finite()) && v.iter().any(|&x| x != 0.0);
        let principal_usable = self.principal.as_deref().is_none_or(usable);
        if !(usable(&self.standardised)
            && usable(&self.covariance)
            && principal_usable
            && (0.0..=1.0).contains(&self.shrinkage))
        {
            return Err(DaecfError::Data(format!(
                "its CE directions are not finite non-zero {dim}-d vectors with a shrinkage in [0, 1]"
            )));
        }
        Ok(())
    }
}

/// The fixed random direction of [`CeDirection::Random`] in `dim` dimensions (unit length).
pub fn random_direction(dim: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(RANDOM_DIRECTION_SEED);
    let v: Vec<f64> = (0..dim).map(|_| rng.sample(StandardNormal)).collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter().map(|x| (x / norm) as f32).collect()
}

/// The unit first principal component of centred rows `x` (the top eigenvector of X^T X), by
/// power iteration; `None` when the rows do not vary.
fn first_principal_component(x: &ndarray::Array2<f64>) -> Option<Array1<f64>> {
    let p = x.ncols();
    let s = x.t().dot(x);
    // A start with a component along every axis, so no eigenvector is orthogonal to it.
    let mut v = Array1::from_shape_fn(p, |j| 1.0 + j as f64 / p as f64);
    for _ in 0..500 {
        let next = s.dot(&v);
        let norm = next.dot(&next).sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            return None;
        }
        let next = next / norm;
        let change = (&next - &v).mapv(f64::abs).sum();
        v = next;
        if change < 1e-10 {
            break;
        }
    }
    Some(v)
}

/// The rows of `latents` minus their mean, in f64.
fn centred(latents: ArrayView2<f32>) -> ndarray::Array2<f64> {
    let x = latents.mapv(f64::from);
    let mean = x.mean_axis(Axis(0)).expect("at least one row");
    x - &mean
}

/// The Ledoit-Wolf shrinkage for centred rows `x` (n x p): the weight s of the scaled identity
/// in (1 - s) S + s mu I, S = X^T X / n, that minimises the expected Frobenius error (the same
/// estimate as scikit-learn's `ledoit_wolf_shrinkage`).
fn ledoit_wolf_shrinkage(x: &ndarray::Array2<f64>) -> f64 {
    let (n, p) = (x.nrows() as f64, x.ncols() as f64);
    let s = x.t().dot(x) / n;
    let mu = s.diag().sum() / p;
    // delta: ||S - mu I||_F^2 / p; beta: the mean of ||x_k x_k^T - S||_F^2 / n^2, over p.
    let s_norm2 = s.iter().map(|v| v * v).sum::<f64>();
    let delta = (s_norm2 - 2.0 * mu * s.diag().sum() + p * mu * mu) / p;
    let fourth = x.rows().into_iter().map(|r| r.dot(&r).powi(2)).sum::<f64>();
    let beta = ((fourth / n - s_norm2) / (p * n)).min(delta);
    if delta <= 0.0 { 0.0 } else { (beta / delta).clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, array};
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// 200 latents with a strong axis 0, a weak axis 1 and axes 0 and 2 correlated.
    fn latents() -> Array2<f32> {
        Array2::from_shape_fn((200, 3), |(i, j)| {
            let u = ((i * 37 % 101) as f32 / 101.0 - 0.5) * 4.0;
            let v = ((i * 53 % 97) as f32 / 97.0 - 0.5) * 0.2;
            match j {
                0 => u,
                1 => v,
                _ => 0.5 * u + v,
            }
        })
    }

    #[test]
    fn directions_follow_the_latents_spread() {
        let x = latents();
        let a = array![0.0f32, 1.0, 0.0];
        let d = FittedDirections::fit(x.view(), a.view()).unwrap();
        // Standardised: only axis 1 moves, by its variance.
        let var1 = x.column(1).mapv(f64::from).var(0.0) as f32;
        assert!((d.standardised[1] - var1).abs() < 1e-5 && d.standardised[0] == 0.0, "{:?}", d.standardised);
        // Covariance: Sigma's column 1, shrunk towards the mean variance on axis 1.
        let c = x.mapv(f64::from);
        let c = &c - &c.mean_axis(ndarray::Axis(0)).unwrap();
        let column = c.t().dot(&c.column(1)) / 200.0;
        let mu = (0..3).map(|j| c.column(j).dot(&c.column(j)) / 200.0).sum::<f64>() / 3.0;
        let s = d.shrinkage as f64;
        for j in 0..3 {
            let want = (1.0 - s) * column[j] + if j == 1 { s * mu } else { 0.0 };
            assert!((d.covariance[j] as f64 - want).abs() < 1e-5, "{j}: {:?} vs {want}", d.covariance);
        }
        // Axis 2 carries axis 1 (2 = u / 2 + v): the move goes along both.
        assert!(d.covariance[2] > 0.5 * d.covariance[1], "{:?}", d.covariance);
        assert!((0.0..=1.0).contains(&d.shrinkage) && d.samples == 200);
        assert_eq!(d.vector(CeDirection::Covariance), Some(&d.covariance[..]));
        assert_eq!(d.vector(CeDirection::Normal), None);
        // The principal component: axis 0 and its half on axis 2, (1, 0, 0.5) / |.|, up to sign.
        let pc = d.principal.as_deref().unwrap();
        let want = [1.0 / 1.25f32.sqrt(), 0.0, 0.5 / 1.25f32.sqrt()];
        let dot: f32 = pc.iter().zip(want).map(|(a, b)| a * b).sum();
        assert!(dot.abs() > 0.999, "{pc:?}");
        assert_eq!(d.vector(CeDirection::Principal), Some(pc));
    }

    #[test]
    fn the_random_control_is_a_fixed_unit_vector() {
        let r = random_direction(512);
        assert_eq!(r, random_direction(512));
        assert!((r.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(r.iter().filter(|&&x| x > 0.0).count().abs_diff(256) < 50, "not balanced: {:?}", &r[..8]);
    }

    #[test]
    fn shrinkage_matches_scikit_learn() {
        // sklearn.covariance.ledoit_wolf_shrinkage(x, assume_centered=True) (scikit-learn 1.x).
        let few = array![[1.0, 0.5, -0.2], [-0.8, 0.1, 0.4], [0.3, -0.9, 0.0], [-0.5, 0.3, -0.2]];
        assert!((ledoit_wolf_shrinkage(&few) - 0.974294).abs() < 1e-5);
        let more = array![[2.0, 0.1], [-1.5, 0.3], [1.0, -0.2], [-2.2, -0.1], [0.4, 0.2], [0.3, -0.3]];
        assert!((ledoit_wolf_shrinkage(&more) - 0.285853).abs() < 1e-5);
        assert_eq!(ledoit_wolf_shrinkage(&Array2::zeros((3, 2))), 0.0);
    }

    #[test]
    fn bad_inputs_and_names_are_refused() {
        let a = array![1.0f32, 0.0, 0.0];
        assert!(FittedDirections::fit(latents().slice(ndarray::s![..1, ..]), a.view()).is_err());
        assert!(FittedDirections::fit(latents().view(), array![1.0f32].view()).is_err());
        // A gradient along an axis the latents never vary in: no standardised move exists.
        let flat = Array2::from_shape_fn((10, 2), |(i, j)| if j == 0 { i as f32 } else { 0.0 });
        let err = FittedDirections::fit(flat.view(), array![0.0f32, 1.0].view()).unwrap_err();
        assert!(err.to_string().contains("non-zero"), "{err}");
        assert_eq!("covariance".parse::<CeDirection>().unwrap(), CeDirection::Covariance);
        assert!("diagonal".parse::<CeDirection>().unwrap_err().to_string().contains("one of normal, standardised"));
    }
}
