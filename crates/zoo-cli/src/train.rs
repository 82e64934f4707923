//! `zoo train`, `zoo eval` and `zoo predict`: the registry's models on zoo-data's splits
//! through zoo-train's loop, and back out of a run directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use zoo_data::{Augmentation, ImageBatch, SequenceBatch, Splits};
use zoo_train::{
    Classifier, EvalMetrics, LabeledBatch, Loaders, RunDir, RunSummary, Task, TrainError,
    TrainPlan, probabilities,
};

use crate::backend::{self, BackendKind};
use crate::config::{self, ExperimentConfig};
use crate::registry::{Model, ModelKind};

/// Exit code of a run the divergence guard stopped (1 is any other error).
pub const EXIT_DIVERGED: u8 = 3;

/// What `zoo train` was asked.
pub struct TrainArgs<'a> {
    /// Experiment name or TOML path.
    pub experiment: &'a str,
    /// `--set key=value`.
    pub overrides: &'a [String],
    /// `--backend`.
    pub backend: Option<BackendKind>,
    /// `--resume <run-dir>`.
    pub resume: Option<&'a Path>,
    /// `--out`: where run directories go.
    pub out: &'a Path,
}

/// A run's `summary.json`, when it has a readable one.
fn read_summary(run: &RunDir) -> Option<RunSummary> {
    let text = std::fs::read_to_string(run.summary()).ok()?;
    serde_json::from_str(&text).ok()
}

/// Refuses `zoo train X --resume RUN` when RUN is a run of another experiment.
fn check_same_experiment(run: &RunDir, experiment: &str) -> Result<()> {
    let asked = Path::new(experiment)
        .file_stem()
        .map_or(experiment.to_string(), |stem| {
            stem.to_string_lossy().into_owned()
        });
    match run.experiment() {
        Some(recorded) if recorded != asked => bail!(
            "--resume {} is a run of experiment `{recorded}`, not `{asked}`: name its own \
             experiment (zoo train {recorded} --resume …)",
            run.path.display()
        ),
        _ => Ok(()),
    }
}

/// The model kind's data needs, or an error for models without classes.
pub(crate) fn spec_of(model: &ModelKind) -> Result<zoo_data::DataSpec> {
    model.classifier_task().map_err(anyhow::Error::msg)?;
    model
        .data_spec()
        .context("a classifier has a data spec (ModelKind::data_spec)")
}

/// The training split's augmentation, seeded by `data.seed`: with `data.augment`, crop with
/// zero padding of 1/8 of the side (4 pixels for 32×32, as the standard CIFAR recipe) and
/// horizontal flips; with `data.random_erasing`, random erasing (either key alone works).
pub(crate) fn augmentation(config: &ExperimentConfig, shape: [usize; 3]) -> Option<Augmentation> {
    let data = &config.data;
    (data.augment || data.random_erasing > 0.0).then(|| Augmentation {
        padding: if data.augment {
            (shape[1] / 8).max(1)
        } else {
            0
        },
        flip: data.augment,
        erase: data.random_erasing,
        seed: data.seed,
    })
}

/// `zoo train`.
pub fn train(args: TrainArgs<'_>) -> Result<ExitCode> {
    let outcome = train_run(args)?;
    Ok(match outcome.diverged {
        Some(_) => ExitCode::from(EXIT_DIVERGED),
        None if outcome.summary.status == "interrupted" => {
            eprintln!(
                "interrupted after epoch {} of {}: `zoo train --resume {}` continues it",
                outcome.summary.epochs_completed,
                outcome.summary.epochs_planned,
                outcome.run.path.display()
            );
            // 130 after Ctrl-C, 143 after SIGTERM, once the run's files are written.
            ExitCode::from(crate::signals::exit_code())
        }
        None => ExitCode::SUCCESS,
    })
}

/// How a training ended, when it ended without an error.
pub struct TrainOutcome {
    /// Its run directory.
    pub run: RunDir,
    /// What `summary.json` holds.
    pub summary: RunSummary,
    /// The divergence guard's message, when it stopped the run.
    pub diverged: Option<String>,
}

/// Trains as `zoo train` does (printing as it goes) and returns the outcome.
pub fn train_run(args: TrainArgs<'_>) -> Result<TrainOutcome> {
    let (name, config, run, resume_after) = match args.resume {
        None => {
            let resolved = config::load_experiment(args.experiment, args.backend, args.overrides)?;
            (resolved.name, resolved.config, None, None)
        }
        Some(dir) => {
            if !args.overrides.is_empty() || args.backend.is_some() {
                bail!(
                    "--resume continues {} with its saved config.toml; --set and --backend \
                     cannot change it (start a new run instead)",
                    dir.display()
                );
            }
            let run = RunDir::open(dir).map_err(anyhow::Error::msg)?;
            let config = read_run_config(&run)?;
            check_same_experiment(&run, args.experiment)?;
            let (intact, damaged) = run.intact_checkpoints();
            let newest_intact = intact.last().copied();
            for (epoch, problem) in &damaged {
                if newest_intact.is_none_or(|newest| *epoch > newest) {
                    eprintln!(
                        "warning: the checkpoint of epoch {epoch} is damaged ({problem}); {}",
                        match newest_intact {
                            Some(newest) => format!("resuming after epoch {newest} instead"),
                            None => "no earlier intact checkpoint".to_string(),
                        }
                    );
                }
            }
            let Some(last) = newest_intact else {
                bail!(
                    "{} has no intact complete checkpoint (checkpoint/model-N.bpk, optim-N.bpk, \
                     scheduler-N.bpk){}: nothing to resume; start a new run",
                    run.path.display(),
                    if damaged.is_empty() {
                        ": no epoch finished".to_string()
                    } else {
                        format!(" ({} damaged)", damaged.len())
                    }
                );
            };
            if last >= config.train.epochs {
                bail!(
                    "{} already finished all {} epochs; nothing to resume",
                    run.path.display(),
                    config.train.epochs
                );
            }
            // the name the run recorded, not the folder it sits in now (it may have moved)
            let name = run.experiment().unwrap_or_else(|| "run".into());
            println!("Resuming {} after epoch {last}", run.path.display());
            (name, config, Some(run), Some(last))
        }
    };
    let mut config = config;
    // `auto` becomes what this backend gets (drop on GPU backends); config.toml records it.
    config.train.last_batch = config
        .train
        .last_batch
        .resolve(config.backend.kind.is_gpu());
    let spec = spec_of(&config.model)?;
    let devices = config.backend.open_all()?;
    let device = devices[0].clone();
    let check_memory = |batch: usize| -> Result<()> {
        // A GPU's memory is its own; a remote device's is its server's.
        if config.backend.kind.is_gpu() || config.backend.kind == BackendKind::Remote {
            return Ok(());
        }
        crate::limits::check_training_fits(
            &config.model,
            batch,
            "train.batch_size and the model's input size",
            &device,
        )
        .map_err(anyhow::Error::msg)
    };
    // Before loading for a batch size in items; after it for `"full"` (the split's size).
    if let zoo_train::BatchSize::Items(batch) = config.train.batch_size {
        check_memory(batch)?;
    }
    device.seed(config.train.seed);
    // Parameters must be created on the autodiff device to be tracked (Burn's fork keeps a
    // parameter's require-grad flag, which plain-device parameters do not have).
    let model = config
        .model
        .init(&device.clone().autodiff())
        .map_err(anyhow::Error::msg)?;
    let params = model.num_params();
    let splits = zoo_data::load(&config.data, &spec)?;
    if config.train.batch_size == zoo_train::BatchSize::Full {
        check_memory(splits.train_valid_sizes().0)?;
    }
    let (stop, _registration) = crate::signals::stop_on_signals();
    let plan = TrainPlan {
        experiment: name.clone(),
        model: config.model.name().to_string(),
        backend: config.backend.kind.name().to_string(),
        task: config.model.classifier_task().map_err(anyhow::Error::msg)?,
        devices: devices.clone(),
        parallel: config.backend.strategy.resolve(config.backend.kind),
        train: config.train.clone(),
        optimizer: config.optimizer.clone(),
        schedule: config.schedule.clone(),
        clip: config.clip.clone(),
        guard: config.guard.clone(),
        stop,
    };
    // Several devices: the batch must split evenly (and more) before anything is written.
    plan.check_devices(splits.train_valid_sizes().0)
        .map_err(anyhow::Error::msg)?;
    // The run directory is made only once the devices, the model and the data are there, so
    // a run that cannot start leaves nothing behind.
    let run = match run {
        Some(run) => run,
        None => {
            let text = toml::to_string(&config).context("serialising the config")?;
            let run = RunDir::create(args.out, &name, &text)?;
            if let Splits::Images(images) = &splits {
                // What `zoo predict` and the web demo need to classify files without the data.
                write_preprocess_json(&run, images)?;
            }
            run
        }
    };
    let mut device_text =
        backend::device_name(&device).map_or(String::new(), |n| format!(" ({n})"));
    if devices.len() > 1 {
        let how = match plan.parallel {
            zoo_train::Parallel::MultiDevice => "Burn's multi-device strategy, gradients averaged",
            zoo_train::Parallel::Ddp => "Burn's DDP, gradients all-reduced (mean)",
        };
        device_text = format!("{device_text} x {} devices ({how})", devices.len());
    }
    let header = |sizes: (usize, usize, usize)| {
        println!(
            "Training `{name}`: {} ({} parameters) on {}{device_text}, {} epochs, batch {}, \
             {:?} lr {}",
            config.model.name(),
            crate::summary::thousands(params as u64),
            config.backend.kind.name(),
            config.train.epochs,
            config.train.batch_size,
            config.optimizer.kind,
            config.optimizer.lr,
        );
        println!(
            "  data: {} train / {} valid / {} test items; run directory {}",
            sizes.0,
            sizes.1,
            sizes.2,
            run.path.display()
        );
    };
    let result = match splits {
        Splits::Images(images) => {
            let aug = augmentation(&config, images.shape);
            let loaders = Loaders::images(images, aug, &config.train, &device);
            header(loaders.sizes);
            zoo_train::train::<Model, ImageBatch>(model, loaders, &plan, &run, resume_after)
        }
        Splits::Sequences(sequences) => {
            let loaders = Loaders::sequences(sequences, &config.train, &device);
            header(loaders.sizes);
            zoo_train::train::<Model, SequenceBatch>(model, loaders, &plan, &run, resume_after)
        }
    };
    match result {
        Ok(summary) => {
            print_summary(&summary, &run);
            Ok(TrainOutcome {
                run,
                summary,
                diverged: None,
            })
        }
        Err(TrainError::Diverged { message, summary }) => {
            print_summary(&summary, &run);
            eprintln!("error: {message}");
            Ok(TrainOutcome {
                run,
                summary: *summary,
                diverged: Some(message),
            })
        }
        Err(TrainError::Failed(message)) if config.backend.kind == BackendKind::Remote => {
            // Which server went away: a TCP connect to each (a closed port answers at once).
            let down: Vec<String> = config
                .backend
                .hosts
                .iter()
                .filter_map(|host| {
                    backend::answers(host)
                        .err()
                        .map(|reason| format!("{host} is gone ({reason})"))
                })
                .collect();
            let down = if down.is_empty() {
                "every server of backend.hosts still answers".to_string()
            } else {
                format!(
                    "{}. Start it again, restart the other servers too (Burn Remote 0.22 leaves a \
                     server whose peer vanished unable to send to the next one), then `zoo train \
                     {name} --resume {}`",
                    down.join("; "),
                    run.path.display()
                )
            };
            bail!("training `{name}` failed: {message}\n{down}")
        }
        Err(TrainError::Failed(message)) => bail!("training `{name}` failed: {message}"),
    }
}

/// The run's saved config.
pub(crate) fn read_run_config(run: &RunDir) -> Result<ExperimentConfig> {
    let path = run.config();
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let config: ExperimentConfig = config::parse_with_overrides(&path, &text, &[])?;
    config
        .validate()
        .map_err(|error| config::invalid(&path, &text, &[], error))?;
    Ok(config)
}

/// The final table: last epoch, best epoch, test split, throughput, files.
fn print_summary(summary: &RunSummary, run: &RunDir) {
    let row = |label: &str, metrics: &std::collections::BTreeMap<String, f64>| {
        let loss = metrics
            .get("loss")
            .map_or("-".into(), |v| format!("{v:.4}"));
        let acc = metrics
            .get("accuracy")
            .map_or("-".into(), |v| format!("{v:.2} %"));
        println!("  {label:<22} loss {loss:>8}   accuracy {acc:>9}");
    };
    println!(
        "Run {} ({} of {} epochs, {}):",
        summary.status,
        summary.epochs_completed,
        summary.epochs_planned,
        run.path.display()
    );
    row("last epoch, train", &summary.final_train);
    if summary.split_sizes[1] > 0 {
        row("last epoch, valid", &summary.final_valid);
        if let Some(best) = summary.best_epoch {
            row(&format!("best epoch {best}, valid"), &summary.best_valid);
        }
    }
    if let Some(test) = &summary.test {
        print_eval("test (best weights)", test);
    }
    println!(
        "  wall time {:.1} s, training {:.1} images/s on {}",
        summary.wall_seconds, summary.train_items_per_second, summary.backend
    );
    println!(
        "  files: config.toml{} metrics.csv steps.csv curves.png summary.json{} checkpoint/",
        if run.path.join(zoo_data::Preprocess::FILE).is_file() {
            " preprocess.json"
        } else {
            ""
        },
        if run.model().is_file() {
            " model.bpk (+ .sha256)"
        } else {
            ""
        }
    );
}

fn print_eval(label: &str, metrics: &EvalMetrics) {
    println!(
        "  {label:<22} loss {:>8.4}   accuracy {:>7.2} %   ({} items)",
        metrics.loss, metrics.accuracy, metrics.items
    );
    if let Some(b) = &metrics.binary {
        println!(
            "  {:<22} precision {:.2} %  recall {:.2} %  F1 {:.2} %  AUROC {:.2} %",
            "", b.precision, b.recall, b.f1, b.auroc
        );
    }
}

/// The run's best weights on `device`, wrapped as trained.
fn load_model<B: LabeledBatch>(
    run: &RunDir,
    config: &ExperimentConfig,
    device: &Device,
) -> Result<Classifier<Model, B>> {
    let path = run.model();
    if !path.is_file() {
        bail!(
            "{} has no model.bpk: {}",
            run.path.display(),
            describe_unfinished(run)
        );
    }
    let model = config.model.init(device).map_err(anyhow::Error::msg)?;
    let task = config.model.classifier_task().map_err(anyhow::Error::msg)?;
    Classifier::<Model, B>::new(model, task, config.clip.clone())
        .try_load_file(&path)
        .map_err(|error| anyhow::anyhow!("loading {}: {error:?}", path.display()))
}

/// A run directory's config, data needs and device (the run's backend unless `backend`).
fn open_run(
    dir: &Path,
    backend: Option<BackendKind>,
) -> Result<(RunDir, ExperimentConfig, zoo_data::DataSpec, Device)> {
    let run = RunDir::open(dir).map_err(anyhow::Error::msg)?;
    let mut config = read_run_config(&run)?;
    // damaged weights are told before the data is loaded (minutes, for a large set)
    if run.model().is_file() {
        zoo_train::check_weights(&run.model()).map_err(anyhow::Error::msg)?;
    }
    if let Some(kind) = backend {
        config.backend.kind = kind;
    }
    config.backend.devices.clear();
    // Evaluation scores every item, the training split's partial batch included.
    config.train.last_batch = zoo_train::LastBatch::Keep;
    let spec = spec_of(&config.model)?;
    let device = backend::open_device(&config.backend)?;
    Ok((run, config, spec, device))
}

/// Which split `zoo eval` evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitName {
    /// The training split (without augmentation).
    Train,
    /// The validation split.
    Valid,
    /// The test split.
    Test,
}

/// `zoo eval`.
pub fn eval(
    dir: &Path,
    split: SplitName,
    backend: Option<BackendKind>,
    json: bool,
) -> Result<ExitCode> {
    let (run, config, spec, device) = open_run(dir, backend)?;
    let splits = zoo_data::load(&config.data, &spec)?;
    let classes = match &splits {
        Splits::Images(images) => images.classes.clone(),
        Splits::Sequences(sequences) => sequences.classes.clone(),
    };
    let metrics = match splits {
        Splits::Images(images) => {
            let loaders = Loaders::images(images, None, &config.train, &device);
            let model = load_model::<ImageBatch>(&run, &config, &device)?;
            evaluate_split(&model, &loaders, split)?
        }
        Splits::Sequences(sequences) => {
            let loaders = Loaders::sequences(sequences, &config.train, &device);
            let model = load_model::<SequenceBatch>(&run, &config, &device)?;
            evaluate_split(&model, &loaders, split)?
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&metrics)?);
    } else {
        println!(
            "{} ({:?} split, best weights, {}):",
            run.path.display(),
            split,
            config.backend.kind.name()
        );
        print_eval(&format!("{split:?}").to_lowercase(), &metrics);
        print_per_class(&metrics, &classes);
    }
    Ok(ExitCode::SUCCESS)
}

/// One row per class: items, correct, recall (accuracy within the class) and precision.
fn print_per_class(metrics: &EvalMetrics, classes: &[String]) {
    if metrics.per_class.len() < 2 {
        return;
    }
    let width = classes.iter().map(String::len).max().unwrap_or(5).max(5);
    println!(
        "  {:<width$}  {:>6}  {:>7}  {:>8}  {:>9}",
        "class", "items", "correct", "recall", "precision"
    );
    for (index, counts) in metrics.per_class.iter().enumerate() {
        let name = classes
            .get(index)
            .map_or_else(|| index.to_string(), Clone::clone);
        let percent = |a: usize, b: usize| {
            if b == 0 {
                "-".to_string()
            } else {
                format!("{:.2} %", 100.0 * a as f64 / b as f64)
            }
        };
        println!(
            "  {name:<width$}  {:>6}  {:>7}  {:>8}  {:>9}",
            counts.items,
            counts.correct,
            percent(counts.correct, counts.items),
            percent(counts.correct, counts.predicted)
        );
    }
}

fn evaluate_split<B: LabeledBatch>(
    model: &Classifier<Model, B>,
    loaders: &Loaders<B>,
    split: SplitName,
) -> Result<EvalMetrics>
where
    Model: zoo_train::Classify<B::Inputs>,
{
    let (loader, items) = match split {
        SplitName::Train => (&loaders.train, loaders.sizes.0),
        SplitName::Valid => (&loaders.valid, loaders.sizes.1),
        SplitName::Test => (&loaders.test, loaders.sizes.2),
    };
    let name = format!("{split:?}").to_lowercase();
    if items == 0 {
        bail!(
            "the {name} split is empty{}",
            if split == SplitName::Valid {
                " (data.valid_fraction = 0 holds none out)"
            } else {
                ""
            }
        );
    }
    let metrics = zoo_train::evaluate(model, loader.as_ref())
        .map_err(|error| anyhow::anyhow!("{split:?} split: {error}"))?;
    if !metrics.loss.is_finite() {
        bail!(
            "the {name} loss is {}: the weights in model.bpk, or the data, hold non-finite values",
            metrics.loss
        );
    }
    Ok(metrics)
}

/// What a run directory without `model.bpk` holds, for the error that says so.
pub(crate) fn describe_unfinished(run: &RunDir) -> String {
    let status = read_summary(run).map(|summary| summary.status);
    let checkpoints = run.complete_checkpoints();
    let finished = zoo_train::read_history(run)
        .ok()
        .flatten()
        .and_then(|history| {
            history
                .epochs
                .iter()
                .filter(|r| r.split == "train")
                .map(|r| r.epoch)
                .max()
        });
    let mut parts = Vec::new();
    if let Some(status) = status {
        parts.push(format!("summary.json says `{status}`"));
    } else {
        parts.push("no summary.json (the process was killed before it wrote one)".into());
    }
    match finished {
        Some(epoch) => parts.push(format!("history.json records {epoch} finished epoch(s)")),
        None => parts.push("no epoch finished".into()),
    }
    match checkpoints.as_slice() {
        [] => parts.push("no complete checkpoint".into()),
        epochs => parts.push(format!(
            "checkpoints of epoch(s) {}: `zoo train --resume {}` continues from the last",
            epochs
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            run.path.display()
        )),
    }
    parts.join("; ")
}

/// `zoo predict`: top-k classes with probabilities for each file.
pub fn predict(
    dir: &Path,
    files: &[PathBuf],
    top: usize,
    backend: Option<BackendKind>,
    json: bool,
) -> Result<ExitCode> {
    if top == 0 {
        bail!("--top must be at least 1 (the number of classes to show per file)");
    }
    let (run, config, spec, device) = open_run(dir, backend)?;
    let saved = run.path.join(zoo_data::Preprocess::FILE);
    let (classes, rows) = if spec.shape.len() == 3 && saved.is_file() {
        // The input side the trainer saved: no need for the training data.
        let preprocess = zoo_data::Preprocess::read(&saved)?;
        if preprocess.shape.as_slice() != spec.shape.as_slice()
            || preprocess.classes.len() != spec.classes
        {
            bail!(
                "{}: shape {:?} with {} classes, but the run's model takes {:?} with {} classes \
                 (the file is from another run; `zoo preprocess {}` writes it again)",
                saved.display(),
                preprocess.shape,
                preprocess.classes.len(),
                spec.shape,
                spec.classes,
                run.path.display()
            );
        }
        predict_images(&run, &config, &device, &preprocess, files)?
    } else {
        // Runs written before preprocess.json: the training data gives the class names and
        // the normalisation the model was trained with.
        match zoo_data::load(&config.data, &spec)? {
            Splits::Images(images) => {
                let preprocess = zoo_data::Preprocess::of(&images);
                predict_images(&run, &config, &device, &preprocess, files)?
            }
            Splits::Sequences(sequences) => {
                predict_sequences(&run, &config, &device, &sequences, files)?
            }
        }
    };
    for (name, probs) in rows {
        let mut ranked: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let label = |class: usize| classes.get(class).map_or(class.to_string(), |c| c.clone());
        let shown = ranked.iter().take(top);
        if json {
            let top: Vec<serde_json::Value> = shown
                .map(|&(class, p)| serde_json::json!({"index": class, "class": label(class), "probability": p}))
                .collect();
            let line = serde_json::json!({"file": name, "probabilities": probs, "top": top});
            println!("{line}");
        } else {
            let shown: Vec<String> = shown
                .map(|&(class, p)| format!("{} {:.1} %", label(class), 100.0 * p))
                .collect();
            println!("{name}: {}", shown.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The class names, and a (name, probabilities) row per input.
type Answers = (Vec<String>, Vec<(String, Vec<f32>)>);

/// Rows of (file name, probabilities) and the class names, for image files.
fn predict_images(
    run: &RunDir,
    config: &ExperimentConfig,
    device: &Device,
    preprocess: &zoo_data::Preprocess,
    files: &[PathBuf],
) -> Result<Answers> {
    let model = load_model::<ImageBatch>(run, config, device)?;
    let mut rows = Vec::new();
    for file in files {
        // The same bytes-to-floats path as the web demo (zoo_data::Preprocess::values).
        let bytes = zoo_data::folder::read_file(file)?;
        let values = preprocess.values(&bytes, file)?;
        let [c, h, w] = preprocess.shape;
        let input = Tensor::<4>::from_data(TensorData::new(values, [1, c, h, w]), device);
        let logits = zoo_train::Classify::logits(&model.model, input);
        rows.push((file.display().to_string(), probs_of(model.task, logits)?));
    }
    Ok((preprocess.classes.clone(), rows))
}

/// Rows of (file and case, probabilities) and the class names, for .ts files.
fn predict_sequences(
    run: &RunDir,
    config: &ExperimentConfig,
    device: &Device,
    sequences: &zoo_data::SequenceSplits,
    files: &[PathBuf],
) -> Result<Answers> {
    let model = load_model::<SequenceBatch>(run, config, device)?;
    let Some(data_dir) = config
        .data
        .dir
        .clone()
        .filter(|_| config.data.kind == zoo_data::DataKind::Ts)
    else {
        bail!(
            "zoo predict on sequences reads .ts files and standardises them with the training file's statistics: the run must have data.kind = \"ts\""
        );
    };
    let [train_path, _] = zoo_data::ts::find_files(&data_dir)?;
    let read = |path: &Path| -> Result<zoo_data::ts::TsFile> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(zoo_data::ts::parse(path, &text)?)
    };
    let train_file = read(&train_path)?;
    let mut rows = Vec::new();
    for file in files {
        let cases = read(file)?;
        let (_, items) = zoo_data::ts::to_items(
            &train_file,
            &cases,
            sequences.shape,
            config.data.series,
            [&train_path, file],
        )?;
        let [c, l] = sequences.shape;
        for (case, item) in items.into_iter().enumerate() {
            let input = Tensor::<3>::from_data(TensorData::new(item.values, [1, c, l]), device);
            let logits = zoo_train::Classify::logits(&model.model, input);
            rows.push((
                format!("{} case {case}", file.display()),
                probs_of(model.task, logits)?,
            ));
        }
    }
    Ok((sequences.classes.clone(), rows))
}

/// `zoo preprocess RUN`: RUN/preprocess.json from the run's training data.
pub fn write_preprocess(dir: &Path) -> Result<ExitCode> {
    let run = RunDir::open(dir).map_err(anyhow::Error::msg)?;
    let config = read_run_config(&run)?;
    let spec = spec_of(&config.model)?;
    let Splits::Images(images) = zoo_data::load(&config.data, &spec)? else {
        bail!(
            "{} is a sequence run: preprocess.json describes image runs (a .ts file is \
             standardised with its training file's statistics)",
            run.path.display()
        );
    };
    let path = write_preprocess_json(&run, &images)?;
    println!("wrote {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes RUN/preprocess.json for a run trained on `images`, atomically; returns its path.
fn write_preprocess_json(run: &RunDir, images: &zoo_data::ImageSplits) -> Result<PathBuf> {
    let path = run.path.join(zoo_data::Preprocess::FILE);
    let text = zoo_data::Preprocess::of(images).to_json();
    zoo_train::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn probs_of(task: Task, logits: Tensor<2>) -> Result<Vec<f32>> {
    let probs = probabilities(task, logits)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|error| anyhow::anyhow!("reading probabilities: {error:?}"))?;
    if probs.iter().any(|p| !p.is_finite()) {
        bail!(
            "the model's outputs are not finite numbers (NaN or infinity): the weights in \
             model.bpk hold non-finite values, or the input does"
        );
    }
    Ok(probs)
}
