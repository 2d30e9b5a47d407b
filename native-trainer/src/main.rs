//! `daecf`: explain medical image classifiers and graders with Diffusion Autoencoder
//! counterfactuals, from the command line.

mod backend;
mod commands;
mod data_source;
mod files;
mod model_source;
mod options;
mod preview;
mod progress;
mod report;

use clap::{Parser, Subcommand};

/// Diffusion Autoencoder counterfactuals for medical image classifiers and graders.
#[derive(Debug, Parser)]
#[command(name = "daecf", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: grade held-out vertebra phantoms with the shipped demo model, draw and measure counterfactuals, write an HTML report.
    Demo(commands::demo::DemoArgs),
    /// Train a Diffusion Autoencoder on unlabelled images (progress, checkpoints, Ctrl-C, --resume).
    Train(commands::train::TrainArgs),
    /// Encode images to semantic latents (z_sem) with a trained model: the input of `fit`.
    Encode(commands::encode::EncodeArgs),
    /// Reconstruct images through the DAE (encode to z_sem and x_T, render back) with MSE, PSNR, SSIM.
    Reconstruct(commands::reconstruct::ReconstructArgs),
    /// Fit linear heads (classifier + grade calibration) on a latents file and report their figures.
    Fit(commands::fit::FitArgs),
    /// Distance, class and grade of every sample of a latents file under fitted heads.
    Grade(commands::grade::GradeArgs),
    /// Measure counterfactuals on a labelled set: validity, proximity, reconstruction, oracle on phantoms.
    EvaluateCe(commands::evaluate_ce::EvaluateCeArgs),
    /// Measure training throughput (samples/s), a DDIM step and peak memory of a preset on a device.
    Bench(commands::bench::BenchArgs),
    /// Write a model and its heads as one bundle (for the browser app and `demo`), or the model alone.
    Export(commands::export::ExportArgs),
    /// Convert a model trained with the reference PyTorch DAE (phizaz/diffae) into a daecf model file.
    Import(commands::import::ImportArgs),
    /// Validate a bundle and print what it holds.
    Inspect(commands::inspect::InspectArgs),
    /// Write a phantom data set with its ground truth (PNG folder + labels CSV, MedMNIST .npz).
    Phantom(commands::phantom::PhantomArgs),
    /// Explain images: distance, class, grade, and counterfactuals (binary, grades, progression).
    Explain(commands::explain::ExplainArgs),
    /// Do the counterfactuals reveal a head that takes a shortcut through a neighbouring vertebra?
    Shortcut(commands::shortcut::ShortcutArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Demo(args) => commands::demo::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Encode(args) => commands::encode::run(args),
        Command::Reconstruct(args) => commands::reconstruct::run(args),
        Command::Fit(args) => commands::fit::run(args),
        Command::Grade(args) => commands::grade::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Phantom(args) => commands::phantom::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Import(args) => commands::import::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::EvaluateCe(args) => commands::evaluate_ce::run(args),
        Command::Shortcut(args) => commands::shortcut::run(args),
    }
}
