//! The Diffusion Autoencoder's architecture, as one documented config with the presets daecf
//! ships (Preechakul et al., CVPR 2022; the seed paper's models in Atad et al., MELBA 2024).
//!
//! The fields mirror the options of the reference PyTorch code (`phizaz/diffae`,
//! `BeatGANsAutoencConfig`), so a model trained there is described here without translation.

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::diffusion::{BetaSchedule, NoiseSchedule};
use crate::error::DaecfError;
use crate::named::Named;

/// The intensity range the model was trained on; images are mapped into it before encoding
/// and rendered images come back in it.
///
/// The reference DAE trains on [-1, 1]; the seed paper's own pipelines fed [0, 1]. The DDIM
/// sampler always clips predicted images to [-1, 1] (as the reference does), whatever the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InputRange {
    /// Pixels scaled to [-1, 1] (the reference DAE's convention).
    #[default]
    MinusOneToOne,
    /// Pixels scaled to [0, 1] (the seed paper's MONAI pipelines).
    ZeroToOne,
}

impl InputRange {
    /// Maps a value in [0, 1] into this range.
    pub fn from_unit(self, v: f32) -> f32 {
        match self {
            Self::MinusOneToOne => v * 2.0 - 1.0,
            Self::ZeroToOne => v,
        }
    }

    /// Maps a value in this range back to [0, 1] (clamped).
    pub fn to_unit(self, v: f32) -> f32 {
        let u = match self {
            Self::MinusOneToOne => (v + 1.0) * 0.5,
            Self::ZeroToOne => v,
        };
        u.clamp(0.0, 1.0)
    }
}

/// Architecture of a Diffusion Autoencoder: the conditional UNet that predicts noise and the
/// semantic encoder that maps an image to `z_sem`.
#[derive(Config, Debug, PartialEq)]
pub struct DaeConfig {
    /// Side of the square input image in pixels.
    pub image_size: usize,
    /// Image channels in (1 grey, 3 RGB).
    pub in_channels: usize,
    /// Channels of the predicted noise; equal to `in_channels` for every model daecf trains.
    pub out_channels: usize,
    /// Base width of the UNet and the encoder (`net_ch`).
    pub model_channels: usize,
    /// UNet width multipliers per resolution level (`net_ch_mult`).
    pub channel_mult: Vec<usize>,
    /// Encoder width multipliers per resolution level (`net_enc_channel_mult`).
    pub enc_channel_mult: Vec<usize>,
    /// Resolutions (in pixels) at which the UNet has self-attention blocks.
    #[config(default = "vec![16]")]
    pub attention_resolutions: Vec<usize>,
    /// Resolutions at which the encoder has attention; `None` means the UNet's.
    #[config(default = "None")]
    pub enc_attention_resolutions: Option<Vec<usize>>,
    /// Residual blocks per level of the UNet.
    #[config(default = 2)]
    pub num_res_blocks: usize,
    /// Residual blocks per level of the encoder.
    #[config(default = 2)]
    pub enc_num_res_blocks: usize,
    /// Attention heads (the reference's "legacy" q/k/v order).
    #[config(default = 1)]
    pub num_heads: usize,
    /// Width of the time embedding given to every residual block.
    #[config(default = 512)]
    pub embed_channels: usize,
    /// Dimension of the semantic latent `z_sem`.
    #[config(default = 512)]
    pub latent_dim: usize,
    /// Dropout inside the UNet's residual blocks (training only).
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Intensity range of the images the model was trained on.
    #[config(default = "InputRange::MinusOneToOne")]
    pub input_range: InputRange,
    /// Diffusion length T: the timesteps the model was trained on and DDIM respaces (`None`:
    /// 1000, the reference's, as in files written before the field).
    pub timesteps: Option<usize>,
    /// The diffusion's beta schedule (`None`: linear, the reference's).
    pub beta_schedule: Option<BetaSchedule>,
}

/// The diffusion length of a model whose config does not name one: the reference DAE's.
pub const DEFAULT_TIMESTEPS: usize = 1000;

/// The model sizes daecf ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// 32x32x1, 32 channels, mult (1,2,4), encoder (1,2,4,4), attention at 16.
    Tiny32,
    /// The seed paper's SPIDER/BraTS model: 64x64x1, 64 channels, mult (1,2,4,8), encoder
    /// (1,2,4,8,8), attention at 16.
    Paper64,
    /// The paper's vertebra model size, 96x96x1, 64 channels. 96 = 3 x 2^5, so each level halves
    /// cleanly down to 12 (UNet mult (1,2,4,8): 96, 48, 24, 12) and 6 (encoder mult
    /// (1,2,4,8,8): 96 .. 6); attention at 24 and 12, the levels nearest the paper64 model's 16.
    Vcf96,
    /// The paper's RetinaMNIST model: 128x128x3, 128 channels, mult (1,1,2,3,4), encoder
    /// (1,1,2,3,4,4), attention at 16.
    Retina128,
}

impl Named for Preset {
    const ALL: &'static [Self] = &[Preset::Tiny32, Preset::Paper64, Preset::Vcf96, Preset::Retina128];
    const KIND: &'static str = "model preset";

    fn name(self) -> &'static str {
        match self {
            Preset::Tiny32 => "tiny32",
            Preset::Paper64 => "paper64",
            Preset::Vcf96 => "vcf96",
            Preset::Retina128 => "retina128",
        }
    }
}

crate::impl_named_text!(Preset);

impl DaeConfig {
    /// The configuration of a preset (see [`Preset`]).
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Tiny32 => Self::new(32, 1, 1, 32, vec![1, 2, 4], vec![1, 2, 4, 4]),
            Preset::Paper64 => Self::new(64, 1, 1, 64, vec![1, 2, 4, 8], vec![1, 2, 4, 8, 8]),
            Preset::Vcf96 => {
                Self::new(96, 1, 1, 64, vec![1, 2, 4, 8], vec![1, 2, 4, 8, 8]).with_attention_resolutions(vec![24, 12])
            }
            Preset::Retina128 => Self::new(128, 3, 3, 128, vec![1, 1, 2, 3, 4], vec![1, 1, 2, 3, 4, 4]),
        }
    }

    /// The noise schedule of the model's diffusion (its T and beta schedule), which training,
    /// encoding and rendering all use.
    pub fn noise_schedule(&self) -> crate::Result<NoiseSchedule> {
        NoiseSchedule::new(self.beta_schedule.unwrap_or_default(), self.timesteps.unwrap_or(DEFAULT_TIMESTEPS))
    }

    /// The encoder's attention resolutions (its own, or the UNet's when unset).
    pub fn encoder_attention(&self) -> &[usize] {
        self.enc_attention_resolutions.as_deref().unwrap_or(&self.attention_resolutions)
    }

    /// Checks that the shape is buildable: every level halves evenly, every width is divisible
    /// into the GroupNorm groups and attention heads.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(DaecfError::Config(m));
        if self.image_size == 0 || self.in_channels == 0 || self.model_channels == 0 {
            return bad("image_size, in_channels and model_channels must be positive".into());
        }
        if self.channel_mult.is_empty() || self.enc_channel_mult.is_empty() {
            return bad("channel_mult and enc_channel_mult need at least one level".into());
        }
        let levels = self.channel_mult.len().max(self.enc_channel_mult.len());
        if levels > 12
            || self.model_channels > 1 << 16
            || self.channel_mult.iter().chain(&self.enc_channel_mult).any(|&m| m > 64)
        {
            return bad(format!(
                "{levels} levels, {} channels and multipliers up to {:?} are beyond any model daecf builds (at most \
                 12 levels, 65536 channels, multipliers up to 64)",
                self.model_channels,
                self.channel_mult.iter().chain(&self.enc_channel_mult).max()
            ));
        }
        if !self.image_size.is_multiple_of(1 << (levels - 1)) {
            return bad(format!(
                "image_size {} cannot be halved {} times; choose a size divisible by {}",
                self.image_size,
                levels - 1,
                1 << (levels - 1)
            ));
        }
        for &m in self.channel_mult.iter().chain(&self.enc_channel_mult) {
            let c = m * self.model_channels;
            if c == 0 || !c.is_multiple_of(self.num_heads) {
                return bad(format!("width {c} is not divisible by {} heads", self.num_heads));
            }
        }
        let widest =
            self.channel_mult.iter().chain(&self.enc_channel_mult).max().copied().unwrap_or(1) * self.model_channels;
        if !self.model_channels.is_multiple_of(32) && 2 * widest > 32 {
            return bad(format!(
                "model_channels {} must be a multiple of 32: the reference's GroupNorm uses 32 groups on every \
                 layer wider than 32 (skip concatenations included)",
                self.model_channels
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout {} must lie in [0, 1)", self.dropout));
        }
        Ok(())
    }
}

/// GroupNorm groups as the reference uses them: min(32, channels).
pub(crate) fn norm_groups(channels: usize) -> usize {
    channels.min(32)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn configs_without_a_diffusion_read_as_the_references() {
        let mut json: serde_json::Value = serde_json::to_value(DaeConfig::preset(Preset::Tiny32)).unwrap();
        let fields = json.as_object_mut().unwrap();
        assert!(fields.remove("timesteps").is_some() && fields.remove("beta_schedule").is_some());
        let older: DaeConfig = serde_json::from_value(json).unwrap();
        assert_eq!((older.timesteps, older.beta_schedule), (None, None));
        assert_eq!(older.noise_schedule().unwrap().len(), DEFAULT_TIMESTEPS);
        assert_eq!(older.with_timesteps(Some(200)).noise_schedule().unwrap().len(), 200);
    }

    #[test]
    fn presets_validate() {
        for &preset in Preset::ALL {
            DaeConfig::preset(preset).validate().unwrap();
        }
        assert!("huge".parse::<Preset>().unwrap_err().to_string().contains("one of tiny32, paper64"));
        assert_eq!(serde_json::to_string(&Preset::Retina128).unwrap(), "\"retina128\"");
    }

    #[test]
    fn input_range_round_trips() {
        for r in [InputRange::MinusOneToOne, InputRange::ZeroToOne] {
            assert!((r.to_unit(r.from_unit(0.3)) - 0.3).abs() < 1e-6);
        }
        assert_eq!(InputRange::MinusOneToOne.from_unit(0.0), -1.0);
    }

    #[test]
    fn absurd_shapes_are_rejected_without_overflow() {
        let deep = DaeConfig::new(32, 1, 1, 32, vec![1; 70], vec![1, 2]);
        assert!(deep.validate().is_err());
        let wide = DaeConfig::new(32, 1, 1, usize::MAX / 2, vec![1, 2], vec![1, 4]);
        assert!(wide.validate().is_err());
        let huge_mult = DaeConfig::new(32, 1, 1, 32, vec![1, usize::MAX], vec![1, 2]);
        assert!(huge_mult.validate().is_err());
    }

    #[test]
    fn odd_sizes_are_rejected() {
        let c = DaeConfig::new(30, 1, 1, 32, vec![1, 2, 4], vec![1, 2, 4, 4]);
        assert!(c.validate().is_err());
    }
}
