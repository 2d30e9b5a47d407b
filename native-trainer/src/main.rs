//! `daecf`: explain medical image classifiers and graders with Diffusion Autoencoder
//! counterfactuals, from the command line.

mod backend;
mod commands;
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
    /// Fit linear heads (classifier + grade calibration) on a latents file and report their figures.
    Fit(commands::fit::FitArgs),
    /// Distance, class and grade of every sample of a latents file under fitted heads.
    Grade(commands::grade::GradeArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Fit(args) => commands::fit::run(args),
        Command::Grade(args) => commands::grade::run(args),
    }
}
