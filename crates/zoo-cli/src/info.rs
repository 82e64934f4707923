//! The commands that inspect rather than train: `zoo list`, `config`, `devices`, `summary`,
//! `grad-example`.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::backend::{self, BackendKind};
use crate::config;
use crate::grad_example;
use crate::lookup::{device_for, model_or_experiment};
use crate::registry::ModelKind;
use crate::summary::thousands;

pub(crate) fn list(json: bool) -> Result<ExitCode> {
    let device = device_for(None)?;
    let mut models = Vec::new();
    for model in ModelKind::all() {
        let summary = model.summarize(&device, 1).map_err(anyhow::Error::msg)?;
        models.push(serde_json::json!({
            "name": model.name(),
            "description": model.description(),
            "input_shape": model.input_shape(),
            "output": model.output_description(),
            "classes": model.output().classes(),
            "params": summary.total_params,
        }));
    }
    let mut experiments = Vec::new();
    let mut failed = false;
    for name in config::experiment_names() {
        match config::load_experiment(&name, None, &[]) {
            Ok(resolved) => {
                let model = &resolved.config.model;
                let summary = model.summarize(&device, 1).map_err(anyhow::Error::msg)?;
                experiments.push(serde_json::json!({
                    "name": name,
                    "model": model.name(),
                    "description": resolved.config.description,
                    "input_shape": model.input_shape(),
                    "output": model.output_description(),
                    "params": summary.total_params,
                    "path": resolved.path,
                }));
            }
            Err(error) => {
                failed = true;
                experiments.push(serde_json::json!({ "name": name, "error": error.to_string() }));
            }
        }
    }
    if json {
        let all = serde_json::json!({ "models": models, "experiments": experiments });
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        print_list("Models", &models);
        println!();
        print_list("Experiments (configs/<name>.toml)", &experiments);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prints `zoo list` rows as an aligned table.
fn print_list(title: &str, rows: &[serde_json::Value]) {
    println!("{title}:");
    let text = |row: &serde_json::Value, key: &str| match &row[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        serde_json::Value::Array(dims) => {
            let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
            format!("[{}]", dims.join(", "))
        }
        serde_json::Value::Number(n) => thousands(n.as_u64().unwrap_or_default()),
        other => other.to_string(),
    };
    let columns = ["name", "input_shape", "output", "params"];
    let widths: Vec<usize> = columns
        .iter()
        .map(|key| {
            rows.iter()
                .map(|row| text(row, key).len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        if let Some(error) = row["error"].as_str() {
            println!("  {:<w$}  error: {error}", text(row, "name"), w = widths[0]);
            continue;
        }
        println!(
            "  {:<w0$}  {:<w1$}  {:<w2$}  {:>w3$} params  {}",
            text(row, "name"),
            text(row, "input_shape"),
            text(row, "output"),
            text(row, "params"),
            text(row, "description"),
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        );
    }
}

pub(crate) fn show_config(
    experiment: &str,
    set: &[String],
    backend: Option<BackendKind>,
) -> Result<ExitCode> {
    let resolved = config::load_experiment(experiment, backend, set)?;
    println!(
        "# experiment `{}` from {}",
        resolved.name,
        resolved.path.display()
    );
    for assignment in &resolved.overrides {
        println!("# --set {assignment}");
    }
    print!("{}", toml::to_string(&resolved.config)?);
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn devices(json: bool) -> Result<ExitCode> {
    let reports = backend::report_devices();
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<9} {:<8} {:<9} detail", "backend", "compiled", "usable");
    for report in &reports {
        println!(
            "{:<9} {:<8} {:<9} {}",
            report.kind.name(),
            if report.compiled { "yes" } else { "no" },
            if report.usable { "yes" } else { "no" },
            report.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn summary(
    name: &str,
    input: Option<Vec<usize>>,
    channels_first: bool,
    json: bool,
    set: &[String],
    backend: Option<BackendKind>,
) -> Result<ExitCode> {
    let (mut model, backend) = model_or_experiment(name, set, backend)?;
    if let Some(shape) = input {
        model = model
            .with_input_shape(&shape)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("--input {shape:?}"))?;
    }
    let device = device_for(backend)?;
    crate::limits::check_training_fits(&model, 1, "--input (or the model's input size)", &device)
        .map_err(anyhow::Error::msg)?;
    let mut summary = model.summarize(&device, 1).map_err(anyhow::Error::msg)?;
    summary.channels_last = !channels_first;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn grad_example(kind: BackendKind) -> Result<ExitCode> {
    let device = device_for(Some(kind))?;
    let comparisons = grad_example::run(&device);
    println!("HW3 Q2 on {kind}: X = [[3,4,5],[2,1,-3],[4,-2,0]], F = [[2,0],[-3,1]], dL/dG = 1");
    let mut all_agree = true;
    for comparison in &comparisons {
        let verdict = if comparison.agrees() { "ok" } else { "DIFFERS" };
        all_agree &= comparison.agrees();
        println!("{}:", comparison.name);
        println!("  burn: {}", grad_example::matrix_text(&comparison.burn));
        println!(
            "  hand: {}",
            grad_example::matrix_text(&comparison.expected)
        );
        println!(
            "  max |burn - hand| = {:e}  {verdict}",
            comparison.max_error()
        );
    }
    if all_agree {
        println!("all four agree within {:e}", grad_example::TOLERANCE);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: Burn's values differ from the hand-derived ones");
        Ok(ExitCode::FAILURE)
    }
}
