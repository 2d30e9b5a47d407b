//! The linear beta schedule of DDPM (Ho et al., 2020) as the reference DAE scales it, and
//! timestep respacing for DDIM (Song et al., 2021) as the reference's `space_timesteps("ddimN")`
//! does it.

use serde::{Deserialize, Serialize};

use crate::error::{DaecfError, Result};

/// The beta schedule of a model's diffusion (stored in its config).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BetaSchedule {
    /// Betas rising linearly from 1e-4 to 0.02, both scaled by 1000 / T: DDPM's and the
    /// reference DAE's.
    #[default]
    Linear,
}

/// Cumulative noise levels of a (possibly respaced) diffusion process, in float64 as the
/// reference computes them.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    /// The original timestep (0..T-1) of each step of this process; the network is called
    /// with these.
    pub timesteps: Vec<usize>,
    /// alpha-bar of each step.
    pub alphas_cumprod: Vec<f64>,
}

impl NoiseSchedule {
    /// The schedule of `kind` with `t` steps.
    pub fn new(kind: BetaSchedule, t: usize) -> Result<Self> {
        match kind {
            BetaSchedule::Linear => Self::linear(t),
        }
    }

    /// The linear schedule with `t` steps: betas from 1e-4 to 0.02, both scaled by 1000/T.
    pub fn linear(t: usize) -> Result<Self> {
        if t < 2 {
            return Err(DaecfError::Config(format!("a diffusion needs at least 2 steps, got {t}")));
        }
        let scale = 1000.0 / t as f64;
        let (start, end) = (scale * 1e-4, scale * 0.02);
        let mut acc = 1.0;
        let alphas_cumprod = (0..t)
            .map(|i| {
                let beta = start + (end - start) * i as f64 / (t - 1) as f64;
                acc *= 1.0 - beta;
                acc
            })
            .collect();
        Ok(Self { timesteps: (0..t).collect(), alphas_cumprod })
    }

    /// Number of steps.
    pub fn len(&self) -> usize {
        self.timesteps.len()
    }

    /// True for a schedule without steps (never built by this module).
    pub fn is_empty(&self) -> bool {
        self.timesteps.is_empty()
    }

    /// The `n`-step DDIM respacing of this schedule: timesteps 0, s, 2s, ... with the smallest
    /// integer stride s that gives exactly `n` of them; an error when no stride does.
    pub fn respaced(&self, n: usize) -> Result<Self> {
        let total = self.len();
        let stride = (1..=total).find(|&s| total.div_ceil(s) == n).ok_or_else(|| {
            DaecfError::Config(format!(
                "{n} DDIM steps cannot be spaced evenly over {total} timesteps \
                 (the reference's 'ddim{n}' rule); choose e.g. 10, 20, 50, 100, 250 or {total}"
            ))
        })?;
        let timesteps: Vec<usize> = (0..total).step_by(stride).collect();
        // Re-derive betas between kept steps and re-accumulate, as the reference does.
        let mut last = 1.0;
        let mut acc = 1.0;
        let alphas_cumprod = timesteps
            .iter()
            .map(|&i| {
                let ac = self.alphas_cumprod[i];
                acc *= ac / last;
                last = ac;
                acc
            })
            .collect();
        Ok(Self { timesteps: timesteps.iter().map(|&i| self.timesteps[i]).collect(), alphas_cumprod })
    }

    /// alpha-bar of the step before step `k` (1 before the first).
    pub fn alpha_cumprod_prev(&self, k: usize) -> f64 {
        if k == 0 { 1.0 } else { self.alphas_cumprod[k - 1] }
    }

    /// alpha-bar of the step after step `k` (0 after the last).
    pub fn alpha_cumprod_next(&self, k: usize) -> f64 {
        self.alphas_cumprod.get(k + 1).copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn respacing_matches_the_reference_rule() {
        let s = NoiseSchedule::linear(1000).unwrap();
        assert_eq!(s.respaced(20).unwrap().timesteps, (0..1000).step_by(50).collect::<Vec<_>>());
        assert_eq!(s.respaced(100).unwrap().timesteps.last(), Some(&990));
        assert_eq!(s.respaced(250).unwrap().timesteps[1], 4);
        assert_eq!(s.respaced(1000).unwrap(), s);
        assert!(s.respaced(300).is_err());
    }

    #[test]
    fn respaced_alphas_are_the_kept_ones() {
        let s = NoiseSchedule::linear(1000).unwrap();
        let r = s.respaced(20).unwrap();
        for (k, &t) in r.timesteps.iter().enumerate() {
            assert!((r.alphas_cumprod[k] - s.alphas_cumprod[t]).abs() < 1e-12);
        }
        // Linear betas: alpha-bar at the last step is about 4e-5.
        assert!((s.alphas_cumprod[999] - 4.04e-5).abs() < 1e-6);
    }
}
