//! The words of `daecf demo`'s page: what the demonstration ran, and how to read its sections.

use daecf_core::latent::CeMove;
use daecf_core::pipeline::CeSteps;

use crate::commands::evaluate_ce::CeSummary;

/// What the demonstration ran.
pub struct Setting<'a> {
    /// The bundle, as the page's first words name it ("The shipped demo").
    pub described: &'a str,
    /// The model's image side.
    pub image_size: usize,
    /// The head's task.
    pub task: &'a str,
    /// Held-out phantoms graded.
    pub phantoms: usize,
    /// DDIM steps of the counterfactuals.
    pub steps: CeSteps,
    /// How the counterfactuals move.
    pub how: CeMove,
    /// Seconds the demonstration took.
    pub seconds: f64,
}

/// The page's opening paragraph.
pub fn introduction(s: &Setting) -> String {
    let how = if s.how == CeMove::PAPER {
        String::new()
    } else {
        format!(" at strength {}, along the {} direction (the paper's: 1, the normal)", s.how.strength, s.how.direction)
    };
    format!(
        "{} Diffusion Autoencoder ({size}x{size} px, trained on vertebra phantoms) with its '{}' head, on {} held-out \
         phantoms whose Genant grade is known. Counterfactuals use {} DDIM encoding and {} rendering steps (the paper: \
         250 / 100){how}. Generated in {:.0} s.",
        s.described,
        s.task,
        s.phantoms,
        s.steps.encode,
        s.steps.render,
        s.seconds,
        size = s.image_size,
    )
}

/// Above the table of every move measured.
pub const MOVES: &str =
    "Each move measured, the paper's length (strength 1) first; the figures below are the last one's.";

/// How to read the trust checks, given how many of them `failed`.
pub fn verdict(summary: &CeSummary, failed: usize) -> String {
    if failed == 0 {
        return "Every check passes: the counterfactuals land where they are asked to, and the phantoms' measured \
                finding moves with them."
            .to_string();
    }
    format!(
        "Not yet: a failed check means the pictures below cannot be read as what drives the head's grade (a \
         counterfactual that does not cross the boundary, or does not change the measured finding, explains \
         nothing). Encoded again, the rendered binary CEs keep a median {:.0} % of their latent move; the move asked \
         is {:.3} in distance (median), while encoding the unedited reconstruction again already shifts it by {:.3}. \
         A move along the directions the training latents vary in (--direction covariance) is what the decoder \
         renders best; a longer-trained model and a CE strength of about 1 / the share kept (--strength) are the \
         other fixes: see shared-models/demo/README.md.",
        100.0 * summary.binary_realised,
        summary.binary_move,
        summary.recon_drift
    )
}

/// How to read the swap test.
pub const SWAP: &str = "The swap test renders each phantom's stochastic code x_T with another phantom's semantic \
     latent z_sem, the partner far from it along the head. 100 % means the rendering lands where the partner is \
     (z_sem decides what the head and the oracle see); 0 % means it stays where the phantom was (x_T decides, and no \
     move of z_sem can show in the picture).";
