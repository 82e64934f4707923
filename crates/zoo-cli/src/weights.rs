//! `zoo export` and `zoo import`: a model's weights out to PyTorch (safetensors) and in from
//! PyTorch (safetensors, `.pt`/`.pth`) and Keras 3 (`.weights.h5`).
//!
//! PyTorch goes through Burn's own burn-store (its adapters transpose Linear weights; Burn's
//! enum variant names are left out of the paths). The names are the Burn model's field paths,
//! which `bench/peer/peer.py` uses too, so an export loads into the peer model with
//! `load_state_dict(strict=True)`. Keras files are read by [`crate::keras`].

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot,
    PyTorchToBurnAdapter, PytorchStore, SafetensorsStore, bridge,
};
use burn::tensor::Device;
use zoo_train::{RunDir, Weights};

use crate::backend::{self, BackendConfig};
use crate::config::{self, ExperimentConfig};
use crate::keras::{self, Target};
use crate::registry::{Model, ModelKind};

/// The weight file formats, by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Burn's burnpack (`.bpk`), as `zoo train` writes `model.bpk`.
    Burnpack,
    /// safetensors (`.safetensors`), PyTorch names and layouts.
    Safetensors,
    /// A `torch.save`d state dict (`.pt`, `.pth`).
    Pytorch,
    /// Keras 3 weights (`.weights.h5`, `.h5`).
    Keras,
}

impl Format {
    /// The format a path's name says, or an error listing the ones known.
    pub fn of(path: &Path) -> Result<Format> {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let format = match name.rsplit_once('.').map(|(_, ext)| ext) {
            Some("bpk") => Format::Burnpack,
            Some("safetensors") => Format::Safetensors,
            Some("pt" | "pth") => Format::Pytorch,
            Some("h5" | "hdf5") => Format::Keras,
            _ => bail!(
                "{}: unknown weights format (expected .safetensors, .pt/.pth, .weights.h5 or \
                 .bpk)",
                path.display()
            ),
        };
        Ok(format)
    }
}

/// The CPU device conversions run on.
fn cpu() -> Result<Device> {
    Ok(backend::open_device(&BackendConfig::default())?)
}

/// A model (`zoo list`) or experiment (`configs/<name>.toml`) by name, with `--set` applied;
/// the experiment's whole config when it is one.
fn resolve_model(name: &str, set: &[String]) -> Result<(ModelKind, Option<ExperimentConfig>)> {
    match config::load_experiment(name, None, set) {
        Ok(resolved) => Ok((resolved.config.model.clone(), Some(resolved.config))),
        Err(config::ConfigError::UnknownExperiment { .. }) => {
            let (kind, _) = crate::lookup::model_or_experiment(name, set, None)?;
            Ok((kind, None))
        }
        Err(error) => Err(error.into()),
    }
}

/// Reads weights written by `zoo train` or `zoo import` (a Classifier's burnpack).
pub fn load_bpk(kind: &ModelKind, path: &Path, device: &Device) -> Result<Model> {
    // Burn reads a flipped bit as a slightly different weight, without an error: the
    // `<file>.sha256` that `zoo train` and `zoo import` write beside weights tells it.
    zoo_train::check_weights(path).map_err(anyhow::Error::msg)?;
    let model = kind.init(device).map_err(anyhow::Error::msg)?;
    let wrapped = Weights { model }.try_load_file(path).map_err(|error| {
        anyhow::anyhow!(
            "loading {} as {} weights: {error:?}",
            path.display(),
            kind.name()
        )
    })?;
    Ok(wrapped.model)
}

/// Writes weights as `zoo train` writes `model.bpk` (a Classifier's burnpack), atomically.
fn save_bpk(model: Model, path: &Path) -> Result<()> {
    let wrapped = Weights { model };
    zoo_train::save_weights(&wrapped, path).map_err(anyhow::Error::msg)
}

/// Writes `model` as safetensors with PyTorch names and layouts (atomically, replacing `to`).
pub fn write_safetensors(model: &Model, kind: &ModelKind, to: &Path) -> Result<()> {
    let mut store = SafetensorsStore::from_file(to)
        .skip_enum_variants(true)
        .with_to_adapter(BurnToPyTorchAdapter)
        .metadata("burn-zoo.model", kind.name())
        .metadata("burn-zoo.config", serde_json::to_string(kind)?)
        .overwrite(true);
    model
        .save_into(&mut store)
        .map_err(|error| anyhow::anyhow!("writing {}: {error}", to.display()))
}

/// `zoo export SOURCE --to FILE`: SOURCE is a run directory, or a `.bpk` with `--model`.
pub fn export(source: &Path, model: Option<&str>, set: &[String], to: &Path) -> Result<ExitCode> {
    let device = cpu()?;
    let (kind, weights) = if source.is_dir() {
        if model.is_some() || !set.is_empty() {
            bail!(
                "{} is a run directory, which names its own model and config: drop {}",
                source.display(),
                if model.is_some() { "--model" } else { "--set" }
            );
        }
        let run = RunDir::open(source).map_err(anyhow::Error::msg)?;
        let config = crate::train::read_run_config(&run)?;
        if !run.model().is_file() {
            bail!(
                "{} has no model.bpk: {}",
                source.display(),
                crate::train::describe_unfinished(&run)
            );
        }
        (config.model, run.model())
    } else {
        if !source.is_file() {
            bail!(
                "{}: no such run directory or weights file",
                source.display()
            );
        }
        if Format::of(source)? != Format::Burnpack {
            bail!(
                "{}: `zoo export` reads burn-zoo weights (a run directory or a .bpk file); \
                 to bring other weights in, use `zoo import`",
                source.display()
            );
        }
        let Some(name) = model else {
            bail!(
                "{}: a .bpk file does not say which model it holds; add --model NAME \
                 (a model from `zoo list` or an experiment)",
                source.display()
            );
        };
        (resolve_model(name, set)?.0, source.to_path_buf())
    };
    let model = load_bpk(&kind, &weights, &device)?;
    match Format::of(to)? {
        Format::Safetensors => write_safetensors(&model, &kind, to)?,
        Format::Burnpack => save_bpk(model, to)?,
        Format::Pytorch | Format::Keras => bail!(
            "{}: `zoo export` writes .safetensors (PyTorch: \
             `model.load_state_dict(safetensors.torch.load_file(PATH), strict=True)`) or .bpk",
            to.display()
        ),
    }
    println!(
        "wrote {} ({} weights of {}, PyTorch names and layouts)",
        to.display(),
        crate::summary::thousands(count_params(&kind, &device)? as u64),
        kind.name()
    );
    Ok(ExitCode::SUCCESS)
}

fn count_params(kind: &ModelKind, device: &Device) -> Result<usize> {
    Ok(kind.init(device).map_err(anyhow::Error::msg)?.num_params())
}

/// What `zoo import` was asked.
#[derive(Debug)]
pub struct ImportArgs<'a> {
    /// The file to read.
    pub source: &'a Path,
    /// Model or experiment name.
    pub model: &'a str,
    /// `--set` overrides of the model's config.
    pub set: &'a [String],
    /// A `.bpk` file, or a directory to make a run directory of.
    pub to: &'a Path,
    /// The state dict's key inside a `.pt` checkpoint (`state_dict`, `model`…).
    pub key: Option<&'a str>,
    /// `FROM=TO` regex renames of the file's tensor names.
    pub rename: &'a [String],
}

/// `zoo import FILE --model NAME --to OUT`.
pub fn import(args: ImportArgs<'_>) -> Result<ExitCode> {
    let device = cpu()?;
    let (kind, experiment) = resolve_model(args.model, args.set)?;
    let to_run_dir = match Format::of(args.to) {
        Ok(Format::Burnpack) => false,
        Ok(_) => bail!(
            "--to {}: `zoo import` writes burn-zoo weights, a .bpk file or a run directory \
             (to write PyTorch files, use `zoo export`)",
            args.to.display()
        ),
        Err(_) => true,
    };
    if to_run_dir && experiment.is_none() {
        bail!(
            "--to {} is a directory, which becomes a run directory for `zoo eval`/`zoo predict` \
             and needs an experiment (data, backend) rather than the bare model `{}`: name an \
             experiment (configs/*.toml) or write a .bpk file",
            args.to.display(),
            args.model
        );
    }
    if !args.source.is_file() {
        bail!("{}: no such file", args.source.display());
    }
    let run = RunDir {
        path: args.to.to_path_buf(),
    };
    if to_run_dir && run.model().exists() {
        bail!(
            "{} already holds model.bpk; import into a new directory",
            args.to.display()
        );
    }
    let model = read_model(args.source, &kind, args.key, args.rename, &device)?;
    if to_run_dir {
        let config = experiment.expect("checked above");
        let text = toml::to_string(&config).context("serialising the config")?;
        let run = RunDir::create_at(args.to, &text)?;
        save_bpk(model, &run.model())?;
        println!(
            "imported {} into the run directory {} ({}): try `zoo eval {}`",
            args.source.display(),
            args.to.display(),
            kind.name(),
            args.to.display()
        );
    } else {
        save_bpk(model, args.to)?;
        println!(
            "imported {} into {} ({})",
            args.source.display(),
            args.to.display(),
            kind.name()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The model `kind` with the weights of a PyTorch or Keras file, every tensor checked: none
/// missing, none extra, every shape equal. `key`: the state dict's key in a `.pt` checkpoint;
/// `rename`: `FROM=TO` regex renames of a PyTorch file's tensor names.
pub fn read_model(
    source: &Path,
    kind: &ModelKind,
    key: Option<&str>,
    rename: &[String],
    device: &Device,
) -> Result<Model> {
    let mut model = kind.init(device).map_err(anyhow::Error::msg)?;
    let remapper = renames(rename)?;
    let format = Format::of(source)?;
    if key.is_some() && format != Format::Pytorch {
        bail!(
            "--key selects a state dict inside a .pt checkpoint; {} is not one",
            source.display()
        );
    }
    let result = match format {
        Format::Safetensors => {
            let mut store = SafetensorsStore::from_file(source)
                .skip_enum_variants(true)
                .with_from_adapter(PyTorchToBurnAdapter)
                .remap(remapper)
                .allow_partial(true)
                .validate(false);
            model
                .load_from(&mut store)
                .map_err(|error| anyhow::anyhow!("reading {}: {error}", source.display()))?
        }
        Format::Pytorch => {
            let mut store = PytorchStore::from_file(source)
                .skip_enum_variants(true)
                .remap(remapper)
                .allow_partial(true)
                .validate(false);
            if let Some(key) = key {
                store = store.with_top_level_key(key);
            }
            model
                .load_from(&mut store)
                .map_err(|error| anyhow::anyhow!("reading {}: {error}", source.display()))?
        }
        Format::Keras => {
            if !rename.is_empty() {
                bail!("--rename applies to PyTorch files; Keras layers are matched by shape");
            }
            let layers = keras::read_layers(source).map_err(anyhow::Error::msg)?;
            let tensors = keras::to_burn(
                source,
                layers,
                &targets(&model),
                kind.flattened()
                    .as_ref()
                    .map(|(path, dims)| (*path, dims.as_slice())),
            )
            .map_err(anyhow::Error::msg)?;
            model.apply(tensors, None, None, true)
        }
        Format::Burnpack => bail!(
            "{} is already burn-zoo weights: copy it into a run directory as model.bpk, or \
             `zoo export` it",
            source.display()
        ),
    };
    check(&result, source, kind, key)?;
    check_finite(&model, source)?;
    Ok(model)
}

/// A NaN or infinity in imported weights would only show later as NaN logits: refused here,
/// naming the tensor.
fn check_finite(model: &Model, source: &Path) -> Result<()> {
    for tensor in model.collect(None, None, true) {
        let data = bridge::into_data(tensor.clone())
            .map_err(|error| anyhow::anyhow!("reading back `{}`: {error}", tensor.name))?;
        let values = data
            .try_to_vec::<f32>()
            .map_err(|error| anyhow::anyhow!("`{}`: {error:?}", tensor.name))?;
        let bad = values.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            bail!(
                "{}: `{}` holds {bad} non-finite value(s) (NaN or infinity) of {}; the file is \
                 damaged or the weights diverged",
                source.display(),
                tensor.name,
                values.len()
            );
        }
    }
    Ok(())
}

/// `--rename FROM=TO` (regexes, in order) as burn-store's key remapper.
fn renames(rules: &[String]) -> Result<KeyRemapper> {
    let mut remapper = KeyRemapper::new();
    for rule in rules {
        let Some((from, to)) = rule.split_once('=') else {
            bail!("--rename `{rule}`: expected FROM=TO (a regex and its replacement)");
        };
        remapper = remapper
            .add_pattern(from, to)
            .with_context(|| format!("--rename `{rule}`: `{from}` is not a valid regex"))?;
    }
    Ok(remapper)
}

/// The model's layers with weights, in module order, for matching a Keras file.
fn targets(model: &Model) -> Vec<Target> {
    let tensors = model.collect(None, None, true);
    let mut targets: Vec<Target> = Vec::new();
    for tensor in &tensors {
        if let Some(path) = tensor.name.strip_suffix(".weight") {
            targets.push(Target {
                path: path.to_string(),
                weight_shape: tensor.shape.to_vec(),
                bias: tensors
                    .iter()
                    .any(|t| t.name.strip_suffix(".bias") == Some(path)),
            });
        }
    }
    targets
}

/// Turns burn-store's result into one error naming every problem: shapes that differ (with
/// both shapes), tensors the model needs that the file lacks, tensors the model has no place
/// for.
fn check(result: &ApplyResult, source: &Path, kind: &ModelKind, key: Option<&str>) -> Result<()> {
    const SHOWN: usize = 8;
    let mut problems: Vec<String> = Vec::new();
    let mut linear = false;
    for error in result.errors.iter().take(SHOWN) {
        problems.push(match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => {
                linear |= expected.len() == 2;
                format!(
                    "`{path}`: the model's shape is {:?}, the file's {:?}",
                    expected.as_slice(),
                    found.as_slice()
                )
            }
            other => other.to_string(),
        });
    }
    if result.errors.len() > SHOWN {
        problems.push(format!("and {} more errors", result.errors.len() - SHOWN));
    }
    if !result.missing.is_empty() {
        let names: Vec<&str> = result
            .missing
            .iter()
            .map(|(path, _)| path.as_str())
            .collect();
        problems.push(format!("missing from the file: {}", abbreviate(&names)));
    }
    if !result.unused.is_empty() {
        let names: Vec<&str> = result.unused.iter().map(String::as_str).collect();
        problems.push(format!(
            "in the file but not in {}: {}",
            kind.name(),
            abbreviate(&names)
        ));
    }
    if problems.is_empty() {
        return Ok(());
    }
    if linear {
        problems.push(
            "(Linear weights are shown in Burn's [in, out] order; PyTorch stores [out, in])".into(),
        );
    }
    let mut hint = String::new();
    if result.applied.is_empty() && result.errors.is_empty() && key.is_none() {
        hint = " (no name matches: a checkpoint nesting the state dict under a key needs \
                 --key, other names need --rename FROM=TO)"
            .into();
    }
    bail!(
        "{} does not fit {} ({} of the model's {} tensors match){hint}:\n  {}",
        source.display(),
        kind.name(),
        result.applied.len(),
        result.applied.len() + result.errors.len() + result.missing.len(),
        problems.join("\n  ")
    )
}

fn abbreviate(names: &[&str]) -> String {
    const SHOWN: usize = 8;
    let mut text = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}
