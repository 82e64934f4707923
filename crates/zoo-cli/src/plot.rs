//! `zoo plot RUN [RUN…]`: one run's `curves.png` drawn again from its `history.json`, or
//! several runs overlaid in one picture for comparing experiments.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};
use zoo_train::plot::{Panel, Series, render_png};
use zoo_train::{History, RunDir, curve_panels, read_history, smoothed, smoothing_span};

/// One run to overlay: its label (the run directory's experiment/timestamp) and history.
struct Overlaid {
    label: String,
    history: History,
}

/// Draws the runs: one run into `out` (default: its own `curves.png`), several overlaid into
/// `out` (default: `runs.png` in the current directory).
pub fn plot_command(runs: &[PathBuf], out: Option<&Path>) -> Result<ExitCode> {
    let mut loaded = Vec::new();
    for dir in runs {
        let run = RunDir::open(dir).map_err(anyhow::Error::msg)?;
        let Some(history) = read_history(&run).map_err(anyhow::Error::msg)? else {
            bail!(
                "{} has no history.json: the run stopped before its first epoch ended, so \
                 there is nothing to plot",
                dir.display()
            );
        };
        if history.steps.is_empty() {
            bail!(
                "{} recorded no training step: nothing to plot",
                dir.display()
            );
        }
        loaded.push((run, history));
    }
    if let [(run, history)] = loaded.as_slice() {
        let path = out.map_or_else(|| run.curves(), Path::to_path_buf);
        render_png(&path, &curve_panels(history), 2, (1200, 800)).map_err(anyhow::Error::msg)?;
        println!("wrote {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let overlaid: Vec<Overlaid> = loaded
        .into_iter()
        .map(|(run, history)| Overlaid {
            label: label(&run.path),
            history,
        })
        .collect();
    let path = out.map_or_else(|| PathBuf::from("runs.png"), Path::to_path_buf);
    render_png(&path, &overlay_panels(&overlaid), 2, (1400, 900)).map_err(anyhow::Error::msg)?;
    println!(
        "wrote {} ({} runs overlaid)",
        path.display(),
        overlaid.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `experiment/timestamp` from `artifacts/experiment/timestamp`, else the directory's name.
fn label(path: &Path) -> String {
    let names: Vec<String> = path
        .components()
        .rev()
        .take(2)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match names.as_slice() {
        [run, experiment] => format!("{experiment}/{run}"),
        [run] => run.clone(),
        _ => path.display().to_string(),
    }
}

/// Fractional epochs (epoch − 1 + step / steps in that epoch): runs with different batch sizes
/// share this axis, where their step counts differ.
fn epoch_axis(history: &History) -> Vec<f64> {
    let mut steps_in = std::collections::BTreeMap::new();
    for step in &history.steps {
        let count = steps_in.entry(step.epoch).or_insert(0usize);
        *count = (*count).max(step.step);
    }
    history
        .steps
        .iter()
        .map(|s| (s.epoch - 1) as f64 + s.step as f64 / steps_in[&s.epoch].max(1) as f64)
        .collect()
}

/// Four panels, one line per run: smoothed training loss, validation loss, validation
/// accuracy and learning rate, against epochs.
fn overlay_panels(runs: &[Overlaid]) -> Vec<Panel> {
    let valid = |history: &History, metric: &str| -> Vec<(f64, f64)> {
        history
            .epochs
            .iter()
            .filter(|r| r.split == "valid")
            .filter_map(|r| r.metrics.get(metric).map(|v| (r.epoch as f64, *v)))
            .collect()
    };
    let panel =
        |title: &str, y: &str, log_y: bool, points: &dyn Fn(&History) -> Vec<(f64, f64)>| Panel {
            title: title.into(),
            x_label: "epoch".into(),
            y_label: y.into(),
            log_y,
            series: runs
                .iter()
                .map(|run| Series {
                    name: run.label.clone(),
                    points: points(&run.history),
                    markers: !title.starts_with("Training") && !title.starts_with("Learning"),
                    faint: false,
                })
                .collect(),
            ..Panel::default()
        };
    let train_loss = |history: &History| {
        let xs = epoch_axis(history);
        let raw: Vec<(f64, f64)> = xs
            .iter()
            .zip(&history.steps)
            .map(|(x, s)| (*x, s.loss))
            .collect();
        smoothed(&raw, smoothing_span(raw.len()))
    };
    let lr = |history: &History| {
        epoch_axis(history)
            .into_iter()
            .zip(&history.steps)
            .filter_map(|(x, s)| s.lr.map(|lr| (x, lr)))
            .collect()
    };
    vec![
        panel(
            "Training loss (smoothed per step)",
            "loss",
            true,
            &train_loss,
        ),
        panel("Validation loss", "loss", true, &|h| valid(h, "Loss")),
        panel("Validation accuracy", "accuracy (%)", false, &|h| {
            valid(h, "Accuracy")
        }),
        panel("Learning rate", "learning rate", true, &lr),
    ]
}
