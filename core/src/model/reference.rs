//! Reading the architecture of a model trained with the reference PyTorch DAE from the
//! `config.json` layout of daecf's parity fixtures: the options of `BeatGANsAutoencConfig`
//! under `model` and `fixed`, the diffusion under `diffusion`.

use serde_json::{Map, Value};

use super::config::DaeConfig;
use crate::error::{DaecfError, Result};

/// A reference model's architecture and diffusion.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceConfig {
    /// The architecture and the diffusion (its T), as daecf builds them.
    pub model: DaeConfig,
}

impl ReferenceConfig {
    /// Parses a reference `config.json`; options daecf does not implement are reported as
    /// errors rather than ignored.
    pub fn from_json(text: &str) -> Result<Self> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| DaecfError::Config(format!("reference config is not JSON: {e}")))?;
        let mut opts = Map::new();
        for section in ["fixed", "model"] {
            if let Some(Value::Object(m)) = root.get(section) {
                opts.extend(m.clone());
            }
        }
        let get = |k: &str| opts.get(k).filter(|v| !v.is_null());
        let usize_of = |k: &str| -> Result<Option<usize>> {
            get(k).map(|v| v.as_u64().map(|n| n as usize).ok_or_else(|| bad(k, v))).transpose()
        };
        let list_of = |k: &str| -> Result<Option<Vec<usize>>> {
            get(k)
                .map(|v| {
                    v.as_array()
                        .and_then(|a| a.iter().map(|x| x.as_u64().map(|n| n as usize)).collect())
                        .ok_or_else(|| bad(k, v))
                })
                .transpose()
        };
        let need = |k: &str, v: Option<usize>| v.ok_or_else(|| missing(k));
        let need_list = |k: &str, v: Option<Vec<usize>>| v.ok_or_else(|| missing(k));

        if let Some(pool) = get("enc_pool").and_then(Value::as_str).filter(|p| *p != "adaptivenonzero") {
            return Err(unsupported("enc_pool", pool));
        }
        for key in ["resnet_two_cond", "resblock_updown", "resnet_use_zero_module"] {
            if get(key).and_then(Value::as_bool) == Some(false) {
                return Err(unsupported(key, "false"));
            }
        }

        let in_channels = need("in_channels", usize_of("in_channels")?)?;
        let mut model = DaeConfig::new(
            need("image_size", usize_of("image_size")?)?,
            in_channels,
            usize_of("out_channels")?.unwrap_or(in_channels),
            need("model_channels", usize_of("model_channels")?)?,
            need_list("channel_mult", list_of("channel_mult")?)?,
            need_list("enc_channel_mult", list_of("enc_channel_mult")?)?,
        );
        if let Some(v) = list_of("attention_resolutions")? {
            model.attention_resolutions = v;
        }
        model.enc_attention_resolutions = list_of("enc_attn_resolutions")?;
        for (key, field) in [
            ("num_res_blocks", &mut model.num_res_blocks),
            ("enc_num_res_block", &mut model.enc_num_res_blocks),
            ("num_heads", &mut model.num_heads),
            ("embed_channels", &mut model.embed_channels),
            ("enc_out_channels", &mut model.latent_dim),
        ] {
            if let Some(v) = usize_of(key)? {
                *field = v;
            }
        }
        if let Some(d) = get("dropout").and_then(Value::as_f64) {
            model.dropout = d;
        }
        model.validate()?;

        let diffusion = root.get("diffusion");
        let text_of = |k: &str| diffusion.and_then(|d| d.get(k)).and_then(Value::as_str);
        if let Some(b) = text_of("betas").filter(|b| *b != "linear") {
            return Err(unsupported("betas", b));
        }
        if let Some(m) = text_of("model_mean_type").filter(|m| *m != "eps") {
            return Err(unsupported("model_mean_type", m));
        }
        if diffusion.and_then(|d| d.get("rescale_timesteps")).and_then(Value::as_bool) == Some(true) {
            return Err(unsupported("rescale_timesteps", "true"));
        }
        let timesteps = diffusion.and_then(|d| d.get("T")).and_then(Value::as_u64).map_or(1000, |t| t as usize);
        Ok(Self { model: model.with_timesteps(Some(timesteps)) })
    }
}

fn bad(key: &str, v: &Value) -> DaecfError {
    DaecfError::Config(format!(
        "reference config: '{key}' has an unexpected value {v}; pass the config.json of the run the weights come from"
    ))
}

fn missing(key: &str) -> DaecfError {
    DaecfError::Config(format!(
        "reference config: '{key}' is missing; pass the config.json of the run the weights come from"
    ))
}

fn unsupported(key: &str, v: &str) -> DaecfError {
    DaecfError::Config(format!(
        "reference config: {key} = {v} is not supported; daecf implements the paper's \
         autoenc_base model (linear betas, eps prediction, two-cond ResBlocks with \
         resblock up/down sampling, adaptivenonzero encoder pooling)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    const TINY: &str = r#"{"model": {"image_size": 32, "in_channels": 1, "model_channels": 32,
        "channel_mult": [1, 2], "enc_channel_mult": [1, 2, 2], "attention_resolutions": [16]},
        "fixed": {"num_heads": 1, "enc_pool": "adaptivenonzero", "enc_attn_resolutions": null},
        "diffusion": {"betas": "linear", "T": 1000}}"#;

    #[test]
    fn parses_the_fixture_layout() {
        let c = ReferenceConfig::from_json(TINY).unwrap();
        assert_eq!(c.model.channel_mult, vec![1, 2]);
        assert_eq!(c.model.out_channels, 1);
        assert_eq!(c.model.enc_attention_resolutions, None);
        assert_eq!(c.model.timesteps, Some(1000));
        let short = ReferenceConfig::from_json(&TINY.replace("\"T\": 1000", "\"T\": 500")).unwrap();
        assert_eq!(short.model.noise_schedule().unwrap().len(), 500, "T is the model's own");
    }

    #[test]
    fn rejects_what_daecf_does_not_implement() {
        let other = TINY.replace("adaptivenonzero", "attention");
        let err = ReferenceConfig::from_json(&other).unwrap_err().to_string();
        assert!(err.contains("enc_pool"), "{err}");
        let err = ReferenceConfig::from_json("{}").unwrap_err().to_string();
        assert!(err.contains("in_channels"), "{err}");
    }
}
