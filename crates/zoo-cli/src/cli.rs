//! The `zoo` command line: the arguments (clap) and the dispatch to each command's function
//! (in `info.rs`, `train.rs`, `tools.rs`, `bench.rs`, `weights.rs`, `data.rs`, `plot.rs`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::backend::BackendKind;
use crate::error::Error;

/// burn-zoo: the HW3 architectures as trainable Burn models.
#[derive(Debug, Parser)]
#[command(name = "zoo", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every model and experiment: description, input shape, classes, parameter count.
    List {
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Print an experiment's resolved config (file + overrides) as TOML.
    Config {
        /// Experiment name (configs/<name>.toml) or path to a TOML file.
        experiment: String,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Try every backend compiled into this binary and say which can open a device here.
    Devices {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Keras-style layer table from a real forward pass: output shapes, parameters, MACs.
    Summary {
        /// Model name (see `zoo list`) or experiment name / TOML path (uses its [model]).
        model: String,
        /// Input shape of one item, channels first, e.g. 1x28x28 or 7x1000.
        #[arg(long, value_parser = parse_shape)]
        input: Option<InputShape>,
        /// Print output shapes channels first (Burn's layout) instead of channels last (Keras).
        #[arg(long)]
        channels_first: bool,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// An experiment's data: split sizes, class histograms, pixel or channel mean/std.
    Data {
        /// Experiment name (configs/<name>.toml) or path to a TOML file.
        experiment: String,
        /// Also write a PNG grid of training samples captioned with their class index.
        #[arg(long, value_name = "PNG")]
        preview: Option<std::path::PathBuf>,
        #[command(flatten)]
        overrides: Overrides,
    },
    /// Train an experiment; writes artifacts/<experiment>/<YYYYmmdd-HHMMSS>/. Exit code 3 when
    /// the divergence guard stopped it, 130/143 after Ctrl-C/SIGTERM (the run's files written).
    Train {
        /// Experiment name (configs/<name>.toml) or path to a TOML file.
        experiment: String,
        #[command(flatten)]
        overrides: Overrides,
        /// Continue a run directory after its last complete epoch, with its saved config.
        #[arg(long, value_name = "RUN_DIR")]
        resume: Option<std::path::PathBuf>,
        /// Where run directories are created (a resumed run stays in its own directory).
        #[arg(
            long,
            value_name = "DIR",
            default_value = "artifacts",
            conflicts_with = "resume"
        )]
        out: std::path::PathBuf,
    },
    /// Evaluate a run's best weights (model.bpk) on one split.
    Eval {
        /// A run directory written by `zoo train`.
        run: std::path::PathBuf,
        /// Which split.
        #[arg(long, value_enum, default_value_t = crate::train::SplitName::Test)]
        split: crate::train::SplitName,
        /// Backend to evaluate on (default: the run's).
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Top-k classes with probabilities for image files (or the cases of .ts files).
    Predict {
        /// A run directory written by `zoo train`.
        run: std::path::PathBuf,
        /// Image files (png, jpg, bmp) or .ts files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// How many classes to show per input.
        #[arg(long, default_value_t = 3)]
        top: usize,
        /// Backend to run on (default: the run's).
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
        /// One JSON object per input (file, every class's probability, the top classes)
        /// instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write RUN/preprocess.json (input shape, class names, normalisation) from the run's
    /// training data: for image runs trained before `zoo train` wrote it; `zoo predict` and the
    /// web demo read it instead of the data.
    Preprocess {
        /// A run directory written by `zoo train`.
        run: std::path::PathBuf,
    },
    /// Serve this machine's device to `[backend] kind = "remote"` trainings over WebSocket
    /// (cargo feature `remote`). No authentication: keep it on a private network.
    Serve {
        /// TCP port (0: one the OS picks, printed).
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Address to listen on: 127.0.0.1 (this machine only) unless a private network's.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// The backend whose device is served.
        #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
        backend: BackendKind,
    },
    /// Draw a run's curves again (its curves.png), or overlay several runs in one picture.
    Plot {
        /// Run directories written by `zoo train`.
        #[arg(required = true)]
        runs: Vec<std::path::PathBuf>,
        /// The PNG to write (default: RUN/curves.png for one run, runs.png for several).
        #[arg(long, value_name = "PNG")]
        out: Option<std::path::PathBuf>,
    },
    /// Learning-rate range test: LR rising exponentially, loss smoothed; writes lr-find.png/.csv.
    LrFind {
        /// Experiment name (configs/<name>.toml) or path to a TOML file.
        experiment: String,
        #[command(flatten)]
        overrides: Overrides,
        /// First learning rate.
        #[arg(long, default_value_t = 1e-7)]
        start: f64,
        /// Last learning rate.
        #[arg(long, default_value_t = 10.0)]
        end: f64,
        /// Steps from start to end (stops early once the smoothed loss passes 4x its minimum).
        #[arg(long, default_value_t = 200)]
        steps: usize,
        /// Directory for lr-find.png and lr-find.csv (default artifacts/<experiment>/lr-find).
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
    },
    /// One training per value of a key (--set key=v1,v2,...), loss curves overlaid in sweep.png.
    Sweep {
        /// Experiment name (configs/<name>.toml) or path to a TOML file.
        experiment: String,
        #[command(flatten)]
        overrides: Overrides,
        /// Directory for sweep.png, sweep.csv and the runs (default artifacts/<experiment>/sweep).
        #[arg(long, value_name = "DIR")]
        out: Option<std::path::PathBuf>,
    },
    /// SGD, momentum, RMSprop and Adam started next to the saddles of x^2 - y^2 and x^3 - 3xy^2.
    Saddle {
        /// Learning rate of every optimizer.
        #[arg(long, default_value_t = 0.01)]
        lr: f64,
        /// Start point X,Y.
        #[arg(long, value_parser = parse_point, default_value = "0.5,0.001")]
        start: (f64, f64),
        /// Most steps per optimizer.
        #[arg(long, default_value_t = 500)]
        steps: usize,
        /// Radius of the saddle's neighbourhood.
        #[arg(long, default_value_t = 1.0)]
        radius: f64,
        /// Backend the optimizers run on.
        #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
        backend: BackendKind,
        /// Directory for saddle.png and saddle.csv.
        #[arg(long, value_name = "DIR", default_value = "artifacts/saddle")]
        out: std::path::PathBuf,
    },
    /// Training and inference images/s of a model: the trainer's own step on random batches.
    Bench {
        /// Model name (see `zoo list`) or experiment (uses its model, optimizer and backend).
        model: String,
        /// Backend (default: the experiment's, else flex).
        #[arg(long, value_enum)]
        backend: Option<BackendKind>,
        /// Items per batch.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Steps measured (after the warm-up).
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Warm-up steps, timed separately (kernel compilation, autotune).
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also time each layer's forward pass (the device synchronised after every layer).
        #[arg(long)]
        layers: bool,
    },
    /// Write a run's weights (or a .bpk) as PyTorch safetensors: the names and layouts of the
    /// PyTorch model in bench/peer/peer.py, for load_state_dict(strict=True).
    Export {
        /// A run directory written by `zoo train` or `zoo import`, or a .bpk file.
        source: std::path::PathBuf,
        /// The model of a .bpk file: a model (`zoo list`) or an experiment.
        #[arg(long)]
        model: Option<String>,
        /// Override a config value, e.g. --set model.num_classes=2 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// The file to write: .safetensors (or .bpk).
        #[arg(long, value_name = "FILE")]
        to: std::path::PathBuf,
    },
    /// Read PyTorch (.safetensors, .pt/.pth) or Keras 3 (.weights.h5) weights into a model:
    /// every tensor checked (none missing, none extra, every shape equal).
    Import {
        /// The weights file.
        source: std::path::PathBuf,
        /// The model: a model (`zoo list`) or an experiment (configs/<name>.toml).
        #[arg(long)]
        model: String,
        /// Override a config value, e.g. --set model.num_classes=2 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// A .bpk file, or a directory that becomes a run directory (config.toml + model.bpk)
        /// for `zoo eval` and `zoo predict` (needs an experiment).
        #[arg(long, value_name = "PATH")]
        to: std::path::PathBuf,
        /// The key of the state dict inside a .pt checkpoint (e.g. state_dict, model).
        #[arg(long)]
        key: Option<String>,
        /// Rename the file's tensors before matching: FROM=TO, a regex and its replacement
        /// (repeatable, applied in order), e.g. --rename '^features\.'=''.
        #[arg(long, value_name = "FROM=TO")]
        rename: Vec<String>,
    },
    /// HW3 Q2: Burn's autodiff gradients of conv 2x2 + GAP beside the hand-derived ones.
    GradExample {
        /// Backend to compute on.
        #[arg(long, value_enum, default_value_t = BackendKind::Flex)]
        backend: BackendKind,
    },
}

/// `--set key=value` and `--backend KIND`, shared by every command that takes an experiment.
#[derive(Debug, Args)]
struct Overrides {
    /// Override a config value, e.g. --set train.epochs=1 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Backend to run on (same as --set backend.kind=KIND).
    #[arg(long, value_enum)]
    backend: Option<BackendKind>,
}

/// The shape of one input item, channels first (`--input 1x28x28`).
#[derive(Debug, Clone)]
struct InputShape(Vec<usize>);

/// `0.5,0.001` → (0.5, 0.001).
fn parse_point(text: &str) -> Result<(f64, f64), Error> {
    let parts: Vec<&str> = text.split(',').collect();
    if let [x, y] = parts.as_slice()
        && let (Ok(x), Ok(y)) = (x.trim().parse::<f64>(), y.trim().parse::<f64>())
        && x.is_finite()
        && y.is_finite()
    {
        return Ok((x, y));
    }
    Err(Error::Argument {
        value: text.to_string(),
        expected: "is not two numbers X,Y (e.g. 0.5,0.001)".to_string(),
    })
}

/// `1x28x28` → `[1, 28, 28]`.
fn parse_shape(text: &str) -> Result<InputShape, Error> {
    let dims: Result<Vec<usize>, Error> = text
        .split(['x', 'X', ','])
        .map(|dim| {
            dim.trim()
                .parse::<usize>()
                .ok()
                .filter(|&d| d > 0)
                .ok_or_else(|| Error::Argument {
                    value: dim.to_string(),
                    expected: format!(
                        "in `{text}` is not a positive integer (expected e.g. 3x32x32)"
                    ),
                })
        })
        .collect();
    dims.map(InputShape)
}

/// Parses the arguments and runs the command; errors are printed with their causes. The
/// binary's `main` sets the process up first (before any thread exists).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::List { json } => crate::info::list(json),
        Command::Config {
            experiment,
            overrides,
        } => crate::info::show_config(&experiment, &overrides.set, overrides.backend),
        Command::Devices { json } => crate::info::devices(json),
        Command::Summary {
            model,
            input,
            channels_first,
            json,
            overrides,
        } => crate::info::summary(
            &model,
            input.map(|shape| shape.0),
            channels_first,
            json,
            &overrides.set,
            overrides.backend,
        ),
        Command::Data {
            experiment,
            preview,
            overrides,
        } => {
            if let Some(path) = &preview {
                png_path("--preview", path)?;
            }
            crate::data::show(&experiment, &overrides.set, preview.as_deref())
        }
        Command::GradExample { backend } => crate::info::grad_example(backend),
        Command::Plot { runs, out } => {
            if let Some(path) = &out {
                png_path("--out", path)?;
            }
            crate::plot::plot_command(&runs, out.as_deref())
        }
        Command::Export {
            source,
            model,
            set,
            to,
        } => crate::weights::export(&source, model.as_deref(), &set, &to),
        Command::Import {
            source,
            model,
            set,
            to,
            key,
            rename,
        } => crate::weights::import(crate::weights::ImportArgs {
            source: &source,
            model: &model,
            set: &set,
            to: &to,
            key: key.as_deref(),
            rename: &rename,
        }),
        Command::Train {
            experiment,
            overrides,
            resume,
            out,
        } => crate::train::train(crate::train::TrainArgs {
            experiment: &experiment,
            overrides: &overrides.set,
            backend: overrides.backend,
            resume: resume.as_deref(),
            out: &out,
        }),
        Command::LrFind {
            experiment,
            overrides,
            start,
            end,
            steps,
            out,
        } => crate::tools::lr_find_command(
            &experiment,
            &overrides.set,
            overrides.backend,
            zoo_train::LrFindConfig {
                start,
                end,
                steps,
                ..zoo_train::LrFindConfig::default()
            },
            out.as_deref(),
        ),
        Command::Sweep {
            experiment,
            overrides,
            out,
        } => crate::tools::sweep_command(
            &experiment,
            &overrides.set,
            overrides.backend,
            out.as_deref(),
        ),
        Command::Saddle {
            lr,
            start,
            steps,
            radius,
            backend,
            out,
        } => crate::tools::saddle_command(
            zoo_train::SaddleConfig {
                lr,
                start,
                steps,
                radius,
            },
            backend,
            &out,
        ),
        Command::Bench {
            model,
            backend,
            batch,
            steps,
            warmup,
            json,
            layers,
        } => crate::bench::bench_command(crate::bench::BenchArgs {
            model: &model,
            backend,
            batch,
            steps,
            warmup,
            json,
            layers,
        }),
        Command::Eval {
            run,
            split,
            backend,
            json,
        } => crate::train::eval(&run, split, backend, json),
        Command::Predict {
            run,
            files,
            top,
            backend,
            json,
        } => crate::train::predict(&run, &files, top, backend, json),
        Command::Preprocess { run } => crate::train::write_preprocess(&run),
        Command::Serve {
            port,
            bind,
            backend,
        } => crate::serve::serve(port, &bind, backend),
    }
}

/// Refuses a picture path that does not end in `.png`: zoo writes PNG files, and PNG bytes
/// under another extension would be a file that lies about its format.
fn png_path(flag: &str, path: &Path) -> Result<()> {
    if path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("png"))
    {
        return Ok(());
    }
    bail!(
        "{flag} {}: zoo draws PNG pictures; give a file name ending in .png",
        path.display()
    )
}
