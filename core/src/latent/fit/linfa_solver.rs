//! Hyperplanes fitted with linfa: the linear SVM (SMO on the hinge loss, as libsvm's SVC that
//! the paper's figures come from) and L2 logistic regression (L-BFGS, as scikit-learn's).

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use linfa_svm::Svm;
use ndarray::{Array1, ArrayView2};

use crate::latent::Hyperplane;
use crate::{DaecfError, Result};

fn fit_error(what: &str, e: impl std::fmt::Display) -> DaecfError {
    DaecfError::Data(format!("fitting the {what} failed: {e}; try another --c, --standardize or --solver burn"))
}

/// A linear SVM with penalty `c` on both classes, stopping at KKT tolerance 1e-3 as libsvm's
/// default (linfa's shrinking is left off: with it, the fit on the RetinaMNIST latents took 24 s
/// and ended far from the optimum, AUC 0.35).
pub fn fit_svm(x: ArrayView2<f64>, y: &[bool], c: f64) -> Result<Hyperplane> {
    let targets = Array1::from(y.to_vec());
    let dataset = DatasetBase::new(x, targets.view());
    let svm = Svm::<f64, bool>::params()
        .linear_kernel()
        .pos_neg_weights(c, c)
        .eps(1e-3)
        .fit(&dataset)
        .map_err(|e| fit_error("linear SVM", e))?;
    // With a linear kernel the decision is weighted_sum(x) - rho, weighted_sum linear in x:
    // the normal's components are its values at the unit vectors.
    let dim = x.ncols();
    let normal = (0..dim)
        .map(|j| {
            let mut e = Array1::zeros(dim);
            e[j] = 1.0;
            svm.weighted_sum(&e) as f32
        })
        .collect();
    Hyperplane::new(normal, -svm.rho as f32)
}

/// L2-regularised logistic regression with inverse strength `c` (linfa's alpha = 1/c), the
/// intercept unregularised, as scikit-learn's `LogisticRegression(C=c)`; L-BFGS stops after
/// `max_iterations` or at gradient norm 1e-4, like scikit-learn's defaults.
pub fn fit_logreg(x: ArrayView2<f64>, y: &[bool], c: f64, max_iterations: u64) -> Result<Hyperplane> {
    let dataset = DatasetBase::new(x, Array1::from(y.to_vec()));
    let model = LogisticRegression::default()
        .alpha(1.0 / c)
        .max_iterations(max_iterations)
        .fit(&dataset)
        .map_err(|e| fit_error("logistic regression", e))?;
    // linfa orders the classes; the positive one must be `true` for n.w + b > 0 to mean positive.
    let sign = if model.labels().pos.class { 1.0 } else { -1.0 };
    Hyperplane::new(model.params().iter().map(|&v| (sign * v) as f32).collect(), (sign * model.intercept()) as f32)
}
