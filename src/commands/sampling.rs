//! llama.cpp's sampling flags (`--temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --seed`)
//! and their checks; the sampler itself lives in `lingot_models::sampling`.

use clap::Args;
use lingot_models::sampling::SamplerParams;

/// How the next token is chosen. Defaults are llama.cpp's.
#[derive(Debug, Clone, Args)]
pub struct SamplingArgs {
    /// Temperature; 0 = greedy (always the most likely token).
    #[arg(long, value_name = "T", default_value_t = 0.8, allow_negative_numbers = true, value_parser = non_negative)]
    pub temp: f32,
    /// Keep only the K most likely tokens (0 = all).
    #[arg(long = "top-k", value_name = "K", default_value_t = 40)]
    pub top_k: usize,
    /// Keep the most likely tokens whose probabilities add up to P (1 = all).
    #[arg(long = "top-p", value_name = "P", default_value_t = 0.95, allow_negative_numbers = true, value_parser = probability)]
    pub top_p: f32,
    /// Drop tokens less likely than P times the most likely one (0 = none).
    #[arg(long = "min-p", value_name = "P", default_value_t = 0.05, allow_negative_numbers = true, value_parser = probability)]
    pub min_p: f32,
    /// Penalise repeating the last --repeat-last-n tokens (1 = off).
    #[arg(long = "repeat-penalty", value_name = "X", default_value_t = 1.0, allow_negative_numbers = true, value_parser = positive)]
    pub repeat_penalty: f32,
    /// How many recent tokens --repeat-penalty looks at.
    #[arg(long = "repeat-last-n", value_name = "N", default_value_t = 64)]
    pub repeat_last_n: usize,
    /// RNG seed; the same seed gives the same text (default: a random seed, printed on stderr).
    #[arg(short = 's', long, value_name = "N")]
    pub seed: Option<u64>,
}

impl SamplingArgs {
    /// The sampler settings, with a fresh random seed when none was given.
    pub fn params(&self) -> SamplerParams {
        SamplerParams {
            temp: self.temp,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            repeat_last_n: self.repeat_last_n,
            seed: self.seed.unwrap_or_else(rand::random),
        }
    }
}

fn parse_f32(s: &str) -> Result<f32, String> {
    let x: f32 = s.parse().map_err(|_| format!("\"{s}\" is not a number"))?;
    if x.is_finite() {
        Ok(x)
    } else {
        Err(format!("{s} is not a finite number"))
    }
}

fn non_negative(s: &str) -> Result<f32, String> {
    let x = parse_f32(s)?;
    if x >= 0.0 {
        Ok(x)
    } else {
        Err("must be 0 or more".into())
    }
}

fn positive(s: &str) -> Result<f32, String> {
    let x = parse_f32(s)?;
    if x > 0.0 {
        Ok(x)
    } else {
        Err("must be more than 0".into())
    }
}

fn probability(s: &str) -> Result<f32, String> {
    let x = parse_f32(s)?;
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err("must be between 0 and 1".into())
    }
}
