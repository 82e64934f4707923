//! `zoo bench`: training and inference throughput of a model on a backend, timing the
//! trainer's own step on random batches of the model's input shape (data loading excluded).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use zoo_data::{ImageBatch, SequenceBatch};
use zoo_train::{BenchConfig, BenchReport, Classifier, ClipConfig, bench, build_optimizer};

use crate::backend::{BackendConfig, BackendKind, device_name, open_device};
use crate::config;
use crate::registry::{Model, ModelKind};

/// What `zoo bench` was asked.
pub struct BenchArgs<'a> {
    /// Model name or experiment.
    pub model: &'a str,
    /// Backend (default: the experiment's, else flex).
    pub backend: Option<BackendKind>,
    /// Items per batch.
    pub batch: usize,
    /// Measured steps.
    pub steps: usize,
    /// Warm-up steps.
    pub warmup: usize,
    /// Print JSON.
    pub json: bool,
    /// Also time each layer's forward pass.
    pub layers: bool,
}

/// Random labels in `0..classes` for `batch` items, seeded.
fn labels(batch: usize, classes: usize, device: &Device) -> Tensor<1, Int> {
    let mut rng = zoo_data::SplitMix64::new(7);
    let values: Vec<i64> = (0..batch).map(|_| rng.below(classes) as i64).collect();
    Tensor::from_data(TensorData::new(values, [batch]), device)
}

/// `zoo bench`.
pub fn bench_command(args: BenchArgs<'_>) -> Result<ExitCode> {
    let (kind, optimizer, mut backend) = match ModelKind::by_name(args.model) {
        Some(kind) => (
            kind,
            zoo_train::OptimizerConfig::default(),
            BackendConfig::default(),
        ),
        None => {
            let resolved = config::load_experiment(args.model, None, &[])?;
            let c = resolved.config;
            (c.model, c.optimizer, c.backend)
        }
    };
    if let Some(kind) = args.backend {
        backend.kind = kind;
    }
    backend.devices.clear();
    let Some(spec) = kind.data_spec() else {
        bail!(
            "model `{}` is not a classifier: zoo bench times the training step of classifiers",
            kind.name()
        );
    };
    if args.batch == 0 || args.steps == 0 {
        bail!("--batch and --steps must be at least 1");
    }
    crate::limits::check_fits(
        "--batch",
        &format!(
            "one batch of {} inputs of shape {:?} (the inputs alone)",
            args.batch, spec.shape
        ),
        crate::limits::elements(&spec.shape) * 4.0 * args.batch as f64,
        crate::limits::total_memory(),
    )
    .map_err(anyhow::Error::msg)?;
    let device = open_device(&backend)?;
    if !backend.kind.is_gpu() {
        crate::limits::check_training_fits(&kind, args.batch, "--batch", &device)
            .map_err(anyhow::Error::msg)?;
    }
    device.seed(42);
    let model = kind
        .init(&device.clone().autodiff())
        .map_err(anyhow::Error::msg)?;
    let settings = BenchConfig {
        warmup: args.warmup,
        steps: args.steps,
        lr: 1e-6,
        on_warmup: Some(|phase, step, of, seconds| {
            eprintln!("{phase} warm-up step {step}/{of}: {seconds:.3} s");
        }),
    };
    let optim = build_optimizer(&optimizer);
    let task = kind.classifier_task().map_err(anyhow::Error::msg)?;
    let (batch, classes) = (args.batch, spec.classes);
    let shape = spec.shape.clone();
    let report: BenchReport = match shape.as_slice() {
        &[c, h, w] => {
            let classifier =
                Classifier::<Model, ImageBatch>::new(model, task, ClipConfig::default());
            bench(
                classifier,
                optim,
                |device: &Device| {
                    ImageBatch::new(
                        Tensor::random([batch, c, h, w], Distribution::Default, device),
                        labels(batch, classes, device),
                    )
                },
                batch,
                &settings,
            )
        }
        &[c, l] => {
            let classifier =
                Classifier::<Model, SequenceBatch>::new(model, task, ClipConfig::default());
            bench(
                classifier,
                optim,
                |device: &Device| {
                    SequenceBatch::new(
                        Tensor::random([batch, c, l], Distribution::Default, device),
                        labels(batch, classes, device),
                    )
                },
                batch,
                &settings,
            )
        }
        other => bail!("no batch maker for input shape {other:?}"),
    }
    .map_err(anyhow::Error::msg)
    .context("benchmarking")?;
    let layers = if args.layers {
        let model = kind.init(&device).map_err(anyhow::Error::msg)?;
        let layers = kind
            .time_layers(&model, &device, batch, args.warmup.max(1), args.steps)
            .map_err(anyhow::Error::msg)
            .context("timing the layers")?;
        Some(layers)
    } else {
        None
    };
    let name = device_name(&device).map_or(String::new(), |n| format!(" ({n})"));
    if args.json {
        // multiply-adds of one item's forward pass: with images/s, the FLOP rate bench-peer reports
        let macs = kind
            .summarize(&device, 1)
            .map_err(anyhow::Error::msg)?
            .total_macs();
        let json = serde_json::json!({
            "model": kind.name(),
            "backend": backend.kind.name(),
            "device": name.trim().trim_matches(['(', ')']),
            "optimizer": format!("{:?}", optimizer.kind).to_lowercase(),
            "threads": zoo_kernels::threads(),
            "gemm_kernels": zoo_kernels::gemm_kernels(),
            "direct_conv": zoo_kernels::direct_conv(&device),
            "macs_per_item": macs,
            "report": report,
            "layers": layers,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} on {}{name}, batch {batch}, {:?} ({} warm-up + {} measured steps, random inputs):",
        kind.name(),
        backend.kind.name(),
        optimizer.kind,
        args.warmup.max(1),
        args.steps
    );
    println!(
        "  {} threads; CPU GEMM kernels: {}; direct AVX2 convolution: {}",
        zoo_kernels::threads(),
        zoo_kernels::gemm_kernels(),
        if zoo_kernels::direct_conv(&device) {
            "on"
        } else {
            "off"
        }
    );
    let line = |label: &str, t: &zoo_train::Throughput, warm: f64| {
        println!(
            "  {label:<10} median {:>9.1} images/s   (min {:.1}, max {:.1});  warm-up {:.2} s",
            t.median, t.min, t.max, warm
        );
    };
    line("train", &report.train, report.train_warmup_seconds);
    line("inference", &report.infer, report.infer_warmup_seconds);
    if let Some(rss) = report.peak_rss_mib {
        println!("  peak resident memory {rss:.0} MiB");
    }
    if let Some(layers) = layers {
        let total: f64 = layers.iter().map(|l| l.median_seconds).sum();
        println!(
            "  forward pass by layer (median of {} passes, synchronised after each layer):",
            args.steps
        );
        for layer in &layers {
            println!(
                "    {:<20} {:<14} {:>9.3} ms  {:>5.1} %",
                layer.path,
                layer.kind,
                layer.median_seconds * 1e3,
                100.0 * layer.median_seconds / total.max(1e-12)
            );
        }
        println!("    {:<20} {:<14} {:>9.3} ms", "sum", "", total * 1e3);
    }
    Ok(ExitCode::SUCCESS)
}
