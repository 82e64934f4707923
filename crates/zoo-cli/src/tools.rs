//! The homework's training advice as commands: `zoo lr-find` (LR range test), `zoo sweep`
//! (one training per value of a key, curves overlaid) and `zoo saddle` (optimizers at saddle
//! points).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use burn::data::dataloader::DataLoader;
use zoo_data::{ImageBatch, SequenceBatch, Splits};
use zoo_train::plot::{ContourPanel, Panel, Series, render_contours_png, render_png};
use zoo_train::{
    Classifier, Classify, LabeledBatch, Loaders, LrFindConfig, LrFindResult, SaddleConfig,
    SaddleOptimizer, Surface, Trajectory, build_optimizer, lr_find, run_saddle, saddle_csv,
    write_atomic, write_lr_find,
};

use crate::backend::{BackendConfig, BackendKind, open_device};
use crate::config;
use crate::registry::Model;
use crate::train::{TrainArgs, augmentation, spec_of, train_run};

/// `zoo lr-find`.
pub fn lr_find_command(
    experiment: &str,
    overrides: &[String],
    backend: Option<BackendKind>,
    range: LrFindConfig,
    out: Option<&Path>,
) -> Result<ExitCode> {
    range.validate().map_err(anyhow::Error::msg)?;
    let mut resolved = config::load_experiment(experiment, backend, overrides)?;
    let gpu = resolved.config.backend.kind.is_gpu();
    resolved.config.train.last_batch = resolved.config.train.last_batch.resolve(gpu);
    let config = &resolved.config;
    let spec = spec_of(&config.model)?;
    let device = open_device(&BackendConfig {
        devices: Vec::new(),
        ..config.backend.clone()
    })?;
    device.seed(config.train.seed);
    let autodiff = device.clone().autodiff();
    let model = config.model.init(&autodiff).map_err(anyhow::Error::msg)?;
    let optimizer = build_optimizer(&config.optimizer);
    let splits = zoo_data::load(&config.data, &spec)?;
    if !config.backend.kind.is_gpu() {
        let train_items = splits.train_valid_sizes().0;
        crate::limits::check_training_fits(
            &config.model,
            config.train.batch_size.items(train_items),
            "train.batch_size and the model's input size",
            &device,
        )
        .map_err(anyhow::Error::msg)?;
    }
    println!(
        "LR range test on `{}`: {} steps, learning rate {:e} → {:e} ({:?}, batch {}, {})",
        resolved.name,
        range.steps,
        range.start,
        range.end,
        config.optimizer.kind,
        config.train.batch_size,
        config.backend.kind.name()
    );
    let result = match splits {
        Splits::Images(images) => {
            let aug = augmentation(config, images.shape);
            let loaders = Loaders::images(images, aug, &config.train, &device);
            run_lr_find::<ImageBatch>(model, config, optimizer, &loaders, &autodiff, &range)?
        }
        Splits::Sequences(sequences) => {
            let loaders = Loaders::sequences(sequences, &config.train, &device);
            run_lr_find::<SequenceBatch>(model, config, optimizer, &loaders, &autodiff, &range)?
        }
    };
    let dir = out.map_or_else(
        || {
            PathBuf::from("artifacts")
                .join(&resolved.name)
                .join("lr-find")
        },
        Path::to_path_buf,
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_lr_find(&dir, &result).map_err(anyhow::Error::msg)?;
    println!(
        "{} steps, stopped: {}; curve in {}/lr-find.png and lr-find.csv",
        result.points.len(),
        result.stopped,
        dir.display()
    );
    match (result.steepest, result.min_over_10) {
        (Some(steepest), Some(min10)) => {
            println!(
                "suggested learning rate: {steepest:.2e} (steepest descent of the smoothed loss)"
            );
            println!("                     or: {min10:.2e} (the minimum's learning rate / 10)");
        }
        _ => println!("no suggestion: the loss never fell (widen --start/--end or add --steps)"),
    }
    Ok(ExitCode::SUCCESS)
}

fn run_lr_find<B: LabeledBatch>(
    model: Model,
    config: &crate::config::ExperimentConfig,
    optimizer: burn::optim::ModuleOptimizer,
    loaders: &Loaders<B>,
    autodiff: &burn::tensor::Device,
    range: &LrFindConfig,
) -> Result<LrFindResult>
where
    Model: Classify<B::Inputs>,
{
    let task = config.model.classifier_task().map_err(anyhow::Error::msg)?;
    let classifier = Classifier::<Model, B>::new(model, task, config.clip.clone());
    let train: std::sync::Arc<dyn DataLoader<B>> = loaders.train.to_device(autodiff);
    lr_find(&classifier, optimizer, train.as_ref(), range).map_err(anyhow::Error::msg)
}

/// `zoo saddle`.
pub fn saddle_command(
    settings: SaddleConfig,
    backend: BackendKind,
    out: &Path,
) -> Result<ExitCode> {
    settings.validate().map_err(anyhow::Error::msg)?;
    let device = open_device(&BackendConfig {
        kind: backend,
        ..BackendConfig::default()
    })?;
    let mut trajectories: Vec<Trajectory> = Vec::new();
    for surface in Surface::ALL {
        for optimizer in SaddleOptimizer::ALL {
            trajectories.push(
                run_saddle(surface, optimizer, &settings, &device).map_err(anyhow::Error::msg)?,
            );
        }
    }
    println!(
        "Steps to leave the disc of radius {} around the saddle, from ({}, {}), lr {}, at most {} steps ({}):",
        settings.radius,
        settings.start.0,
        settings.start.1,
        settings.lr,
        settings.steps,
        backend.name()
    );
    println!(
        "  {:<14}{:>14}{:>16}",
        "optimizer",
        Surface::Saddle.name(),
        Surface::Monkey.name()
    );
    for optimizer in SaddleOptimizer::ALL {
        let cell = |surface: Surface| {
            let t = trajectories
                .iter()
                .find(|t| t.surface == surface && t.optimizer == optimizer)
                .expect("every pair ran");
            t.escaped_at
                .map_or(format!("stayed {}", settings.steps), |s| s.to_string())
        };
        println!(
            "  {:<14}{:>14}{:>16}",
            optimizer.name(),
            cell(Surface::Saddle),
            cell(Surface::Monkey)
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write_atomic(
        &out.join("saddle.csv"),
        saddle_csv(&trajectories).as_bytes(),
    )
    .with_context(|| format!("writing {}/saddle.csv", out.display()))?;
    let panel = |surface: Surface, f: fn(f64, f64) -> f64| ContourPanel {
        title: format!("f(x, y) = {}", surface.name()),
        f,
        range: settings.radius * 1.25,
        levels: 14,
        circle: Some(settings.radius),
        series: trajectories
            .iter()
            .filter(|t| t.surface == surface)
            .map(|t| Series {
                name: match t.escaped_at {
                    Some(step) => format!("{} ({step} steps)", t.optimizer.name()),
                    None => format!("{} (stayed)", t.optimizer.name()),
                },
                points: t.points.clone(),
                markers: false,
                faint: false,
            })
            .collect(),
    };
    render_contours_png(
        &out.join("saddle.png"),
        &[
            panel(Surface::Saddle, |x, y| x * x - y * y),
            panel(Surface::Monkey, |x, y| x * x * x - 3.0 * x * y * y),
        ],
        (1200, 600),
    )
    .map_err(anyhow::Error::msg)?;
    println!("paths in {0}/saddle.png and {0}/saddle.csv", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Splits `text` at commas outside brackets and quotes (`16,64,full` → 3 values; `[0, 1]` → 1).
pub fn split_values(text: &str) -> Vec<String> {
    let (mut values, mut current, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None);
    for c in text.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('[' | '{', None) => depth += 1,
            (']' | '}', None) => depth -= 1,
            (',', None) if depth == 0 => {
                values.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    values.push(current.trim().to_string());
    values
}

/// One sweep value's run.
struct SweepRun {
    label: String,
    outcome: crate::train::TrainOutcome,
    history: zoo_train::History,
}

/// `zoo sweep`.
pub fn sweep_command(
    experiment: &str,
    overrides: &[String],
    backend: Option<BackendKind>,
    out: Option<&Path>,
) -> Result<ExitCode> {
    let mut axis = None;
    let mut fixed = Vec::new();
    for set in overrides {
        let (key, value) = set
            .split_once('=')
            .with_context(|| format!("--set {set}: expected KEY=VALUE"))?;
        let values = split_values(value);
        if values.len() > 1 {
            if axis.is_some() {
                bail!(
                    "zoo sweep varies one key at a time; --set {set} is a second key with several values"
                );
            }
            axis = Some((key.trim().to_string(), values));
        } else {
            fixed.push(set.clone());
        }
    }
    if let Some((key, values)) = &axis
        && let Some(repeated) = values
            .iter()
            .enumerate()
            .find(|(i, v)| values[..*i].contains(v))
            .map(|(_, v)| v)
    {
        bail!(
            "--set {key}=…: the value `{repeated}` is listed twice; each run needs its own value"
        );
    }
    let Some((key, values)) = axis else {
        bail!(
            "zoo sweep needs one --set KEY=V1,V2,… with several values, e.g. --set train.batch_size=16,64,full"
        );
    };
    // Check every value before training any.
    for value in &values {
        let mut all = fixed.clone();
        all.push(format!("{key}={value}"));
        config::load_experiment(experiment, backend, &all)?;
    }
    let name = config::load_experiment(experiment, backend, &fixed)?.name;
    let dir = out.map_or_else(
        || PathBuf::from("artifacts").join(&name).join("sweep"),
        Path::to_path_buf,
    );
    let mut runs = Vec::new();
    for value in &values {
        let label = format!("{key}={value}");
        println!("== sweep {label}");
        let mut all = fixed.clone();
        all.push(label.clone());
        let slug: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "=.-_".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let outcome = train_run(TrainArgs {
            experiment,
            overrides: &all,
            backend,
            resume: None,
            out: &dir.join("runs").join(slug),
        })?;
        let history =
            zoo_train::load_history(&outcome.run, usize::MAX).map_err(anyhow::Error::msg)?;
        runs.push(SweepRun {
            label: value.clone(),
            outcome,
            history,
        });
        if runs
            .last()
            .is_some_and(|run| run.outcome.summary.status == "interrupted")
        {
            eprintln!("sweep interrupted: the runs so far are drawn, the remaining values skipped");
            break;
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(&dir.join("sweep.csv"), sweep_csv(&runs).as_bytes())
        .with_context(|| format!("writing {}/sweep.csv", dir.display()))?;
    render_png(
        &dir.join("sweep.png"),
        &sweep_panels(&key, &runs),
        3,
        (1500, 500),
    )
    .map_err(anyhow::Error::msg)?;
    print_sweep_table(&key, &runs);
    println!(
        "curves in {0}/sweep.png and {0}/sweep.csv; runs in {0}/runs/",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The curves of a sweep, long format: value,curve,x,loss where curve is `step` (training
/// loss of each step, x = step counted across epochs), `train` or `valid` (loss per epoch).
fn sweep_csv(runs: &[SweepRun]) -> String {
    let mut out = String::from("value,curve,x,loss\n");
    for ((value, curve), points) in runs.iter().flat_map(curves) {
        for (x, loss) in points {
            out.push_str(&format!("{value},{curve},{x},{loss}\n"));
        }
    }
    out
}

/// One curve of a sweep run: ((value, curve name), points).
type Curve = ((String, &'static str), Vec<(f64, f64)>);

/// The three curves of one run.
fn curves(run: &SweepRun) -> Vec<Curve> {
    let steps: Vec<(f64, f64)> = run
        .history
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| ((i + 1) as f64, s.loss))
        .collect();
    let epochs = |split: &str| -> Vec<(f64, f64)> {
        run.history
            .epochs
            .iter()
            .filter(|r| r.split == split)
            .filter_map(|r| r.metrics.get("Loss").map(|l| (r.epoch as f64, *l)))
            .collect()
    };
    vec![
        ((run.label.clone(), "step"), steps),
        ((run.label.clone(), "train"), epochs("train")),
        ((run.label.clone(), "valid"), epochs("valid")),
    ]
}

fn sweep_panels(key: &str, runs: &[SweepRun]) -> Vec<Panel> {
    let panel = |title: &str, x_label: &str, curve: &str| Panel {
        title: title.into(),
        x_label: x_label.into(),
        y_label: "loss".into(),
        log_y: true,
        integer_x: true,
        series: runs
            .iter()
            .map(|run| Series {
                name: format!("{}={}", key.rsplit('.').next().unwrap_or(key), run.label),
                points: curves(run)
                    .into_iter()
                    .find(|(c, _)| c.1 == curve)
                    .map(|(_, p)| p)
                    .unwrap_or_default(),
                markers: curve != "step",
                faint: false,
            })
            .collect(),
        ..Panel::default()
    };
    vec![
        panel("Training loss per step", "step", "step"),
        panel("Training loss per epoch", "epoch", "train"),
        panel("Validation loss per epoch", "epoch", "valid"),
    ]
}

fn print_sweep_table(key: &str, runs: &[SweepRun]) {
    println!("Sweep of {key}:");
    println!(
        "  {:<12}{:>10}{:>8}{:>12}{:>12}{:>12}{:>11}{:>10}",
        "value", "status", "epochs", "train loss", "best valid", "valid acc", "test acc", "wall s"
    );
    for run in runs {
        let s = &run.outcome.summary;
        let get = |m: &std::collections::BTreeMap<String, f64>, k: &str| {
            m.get(k).map_or("-".to_string(), |v| format!("{v:.4}"))
        };
        let test = s
            .test
            .as_ref()
            .map_or("-".to_string(), |t| format!("{:.2} %", t.accuracy));
        println!(
            "  {:<12}{:>10}{:>8}{:>12}{:>12}{:>12}{:>11}{:>10.1}",
            run.label,
            s.status,
            s.epochs_completed,
            get(&s.final_train, "loss"),
            get(&s.best_valid, "loss"),
            s.best_valid
                .get("accuracy")
                .map_or("-".to_string(), |a| format!("{a:.2} %")),
            test,
            s.wall_seconds
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_split_at_top_level_commas_only() {
        assert_eq!(split_values("16,64,full"), ["16", "64", "full"]);
        assert_eq!(split_values("[0, 1]"), ["[0, 1]"]);
        assert_eq!(split_values("\"a,b\",c"), ["\"a,b\"", "c"]);
        assert_eq!(split_values("1e-3"), ["1e-3"]);
    }
}
