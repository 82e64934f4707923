//! Keras 3 `.weights.h5` files read into Burn's layouts: one job, turning a Keras file's
//! layers into tensors named by the Burn model's own paths.
//!
//! Keras keeps channels last: Conv2D kernels are `(kh, kw, in, out)` (Burn: `[out, in, kh,
//! kw]`), Conv1D kernels `(k, in, out)` (Burn: `[out, in, k]`), and a Dense after Flatten sees
//! `(H, W, C)` flattened where Burn flattens `(C, H, W)`, so that layer's rows are reordered.
//! Dense kernels are `(in, out)` in both.
//!
//! Which Keras layer feeds which Burn layer: a Keras layer named like the Burn layer (`conv1`,
//! `inception_branch3x3_reduce`) when there is one, else the first unused layer of the same
//! kind and kernel shape in creation order (Keras numbers automatic names `conv2d`, `conv2d_1`,
//! `conv2d_2`… as layers are created). Shapes decide where names do not, so a file saved from
//! the homework's notebook, with Keras' automatic names, imports as it is.

use std::path::Path;

use burn::store::bridge;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::tensor::TensorData;
use hdf5_reader::Hdf5File;

use crate::error::Error;

/// One Keras layer with weights: its kernel and optional bias, in Keras' layout.
#[derive(Debug, Clone)]
pub struct KerasLayer {
    /// The layer's path in the file below `layers/` (`conv2d_1`, or `block/conv2d` nested).
    pub name: String,
    /// Kernel shape, Keras layout.
    pub kernel_shape: Vec<usize>,
    /// Kernel values, row-major.
    pub kernel: Vec<f32>,
    /// Bias values, if the layer has one.
    pub bias: Option<Vec<f32>>,
}

/// A Burn layer waiting for weights: its path (`inception.branch1x1`) and its shapes.
#[derive(Debug, Clone)]
pub struct Target {
    /// The layer's path in the Burn model, without `.weight`.
    pub path: String,
    /// Burn's weight shape.
    pub weight_shape: Vec<usize>,
    /// Whether the layer has a bias.
    pub bias: bool,
}

impl Target {
    /// The kernel shape Keras stores for this layer.
    fn keras_shape(&self) -> Vec<usize> {
        match self.weight_shape.as_slice() {
            [o, i, kh, kw] => vec![*kh, *kw, *i, *o],
            [o, i, k] => vec![*k, *i, *o],
            other => other.to_vec(),
        }
    }

    /// The Keras layer kind this Burn layer corresponds to.
    fn kind(&self) -> &'static str {
        kind_of_rank(self.weight_shape.len())
    }
}

fn kind_of_rank(rank: usize) -> &'static str {
    match rank {
        4 => "Conv2D",
        3 => "Conv1D",
        2 => "Dense",
        _ => "unsupported",
    }
}

/// Reads every layer with weights of a Keras 3 `.weights.h5` file.
pub fn read_layers(path: &Path) -> Result<Vec<KerasLayer>, Error> {
    let file = Hdf5File::open(path).map_err(|error| {
        keras(
            path,
            format!(
                " is not a readable HDF5 file ({error}); expected a Keras 3 .weights.h5 file \
                 written by model.save_weights(...)"
            ),
        )
    })?;
    let root = file
        .root_group()
        .map_err(|error| keras(path, format!(": {error}")))?;
    let layers = root.group("layers").map_err(|_| {
        keras(
            path,
            " has no /layers group, so it is not a Keras 3 .weights.h5 file (Keras 2 .h5 \
             files: load them in Keras 3 and call model.save_weights(\"model.weights.h5\"))",
        )
    })?;
    let mut out = Vec::new();
    collect_layers(path, &layers, "", &mut out)?;
    if out.is_empty() {
        return Err(keras(path, " holds no layer with weights"));
    }
    Ok(out)
}

/// Walks `layers/<name>/vars/<i>`, descending into nested models (`layers/<m>/layers/…`).
fn collect_layers(
    file: &Path,
    group: &hdf5_reader::group::Group,
    prefix: &str,
    out: &mut Vec<KerasLayer>,
) -> Result<(), Error> {
    let context = |error: hdf5_reader::error::Error| keras(file, format!(": {error}"));
    let mut groups = group.groups().map_err(context)?;
    groups.sort_by_key(|g| natural_key(g.name()));
    for layer in groups {
        let name = format!("{prefix}{}", layer.name());
        let (children, _) = layer.member_names().map_err(context)?;
        if children.iter().any(|child| child == "layers") {
            let nested = layer.group("layers").map_err(context)?;
            collect_layers(file, &nested, &format!("{name}/"), out)?;
        }
        if !children.iter().any(|child| child == "vars") {
            continue;
        }
        let vars = layer.group("vars").map_err(context)?;
        let mut datasets = vars.datasets().map_err(context)?;
        if datasets.is_empty() {
            continue;
        }
        datasets.sort_by_key(|d| natural_key(d.name()));
        let read = |dataset: &hdf5_reader::Dataset| -> Result<(Vec<usize>, Vec<f32>), Error> {
            let shape: Vec<usize> = dataset.shape().iter().map(|&d| d as usize).collect();
            let count: usize = shape.iter().product();
            let mut values = vec![0f32; count];
            dataset.read_into(&mut values).map_err(|error| {
                keras(
                    file,
                    format!(
                        ": layers/{name}/vars/{} {shape:?}: {error} (expected float32 values)",
                        dataset.name(),
                    ),
                )
            })?;
            Ok((shape, values))
        };
        let vars: Vec<(Vec<usize>, Vec<f32>)> =
            datasets.iter().map(read).collect::<Result<_, _>>()?;
        let shapes: Vec<&Vec<usize>> = vars.iter().map(|(shape, _)| shape).collect();
        let supported = matches!(vars.len(), 1 | 2)
            && (2..=4).contains(&vars[0].0.len())
            && vars.get(1).is_none_or(|(shape, _)| {
                shape.len() == 1 && shape[0] == *vars[0].0.last().unwrap()
            });
        if !supported {
            return Err(keras(
                file,
                format!(
                    ": layer `{name}` has variables of shapes {shapes:?}; burn-zoo's models \
                     hold only Conv1D, Conv2D and Dense layers (a kernel, optionally a bias)"
                ),
            ));
        }
        let mut vars = vars.into_iter();
        let (kernel_shape, kernel) = vars.next().expect("checked: one or two variables");
        out.push(KerasLayer {
            name,
            kernel_shape,
            kernel,
            bias: vars.next().map(|(_, bias)| bias),
        });
    }
    Ok(())
}

/// Orders `conv2d` < `conv2d_1` < `conv2d_2` < `conv2d_10` (Keras' creation order).
fn natural_key(name: &str) -> (String, u64, String) {
    match name.rsplit_once('_') {
        Some((base, number)) if number.chars().all(|c| c.is_ascii_digit()) => (
            base.to_string(),
            number.parse::<u64>().map_or(u64::MAX, |n| n + 1),
            name.to_string(),
        ),
        _ => (name.to_string(), 0, name.to_string()),
    }
}

/// Matches the file's layers to the model's and returns Burn tensors named by Burn paths.
/// `flattened`: the dense layer after Flatten and the channels-first shape it flattens.
pub fn to_burn(
    file: &Path,
    layers: Vec<KerasLayer>,
    targets: &[Target],
    flattened: Option<(&str, &[usize])>,
) -> Result<Vec<PackTensor>, Error> {
    let mut unused: Vec<Option<KerasLayer>> = layers.into_iter().map(Some).collect();
    let mut tensors = Vec::new();
    for target in targets {
        let expected = target.keras_shape();
        let underscored = target.path.replace('.', "_");
        let named = unused.iter().position(|layer| {
            layer
                .as_ref()
                .is_some_and(|l| l.name == target.path || l.name == underscored)
        });
        let index = match named {
            Some(index) => {
                let layer = unused[index].as_ref().expect("position found it");
                if layer.kernel_shape != expected {
                    return Err(keras(
                        file,
                        format!(
                            ": Keras layer `{}` has kernel shape {:?}, but `{}` ({}) needs {:?}",
                            layer.name,
                            layer.kernel_shape,
                            target.path,
                            target.kind(),
                            expected
                        ),
                    ));
                }
                index
            }
            None => unused
                .iter()
                .position(|layer| layer.as_ref().is_some_and(|l| l.kernel_shape == expected))
                .ok_or_else(|| {
                    let left: Vec<String> = unused
                        .iter()
                        .flatten()
                        .map(|l| format!("{} {:?}", l.name, l.kernel_shape))
                        .collect();
                    keras(
                        file,
                        format!(
                            ": no Keras layer has the kernel shape {:?} that `{}` ({}) needs; \
                             layers left: {}",
                            expected,
                            target.path,
                            target.kind(),
                            if left.is_empty() {
                                "none".to_string()
                            } else {
                                left.join(", ")
                            }
                        ),
                    )
                })?,
        };
        let layer = unused[index].take().expect("index of an unused layer");
        if layer.bias.is_some() != target.bias {
            return Err(keras(
                file,
                format!(
                    ": Keras layer `{}` {} a bias, but `{}` {}",
                    layer.name,
                    if layer.bias.is_some() {
                        "has"
                    } else {
                        "has no"
                    },
                    target.path,
                    if target.bias {
                        "needs one"
                    } else {
                        "has none (use_bias=False)"
                    }
                ),
            ));
        }
        let flatten = flattened
            .filter(|(path, _)| *path == target.path)
            .map(|(_, dims)| dims);
        let weight = burn_weight(&layer.kernel, &target.weight_shape, flatten);
        tensors.push(pack(weight, &target.weight_shape, &target.path, "weight"));
        if let Some(bias) = layer.bias {
            let shape = [bias.len()];
            tensors.push(pack(bias, &shape, &target.path, "bias"));
        }
    }
    let extra: Vec<String> = unused
        .iter()
        .flatten()
        .map(|l| format!("{} {:?}", l.name, l.kernel_shape))
        .collect();
    if !extra.is_empty() {
        return Err(keras(
            file,
            format!(
                " has layers with weights that the model has no place for: {} (another \
                 architecture or configuration?)",
                extra.join(", ")
            ),
        ));
    }
    Ok(tensors)
}

/// An [`Error::Keras`] about `file`; `message` follows the path (`: …` or ` is not …`).
fn keras(file: &Path, message: impl Into<String>) -> Error {
    Error::Keras {
        path: file.to_path_buf(),
        message: message.into(),
    }
}

fn pack(values: Vec<f32>, shape: &[usize], path: &str, leaf: &str) -> PackTensor {
    bridge::from_data(
        TensorData::new(values, shape.to_vec()),
        format!("{path}.{leaf}"),
        None,
    )
}

/// A Keras kernel (already checked to have the Keras shape of `burn_shape`) in Burn's layout.
/// `flatten`: the channels-first dims `[C, S…]` a Dense layer's rows come from.
fn burn_weight(kernel: &[f32], burn_shape: &[usize], flatten: Option<&[usize]>) -> Vec<f32> {
    let mut out = vec![0f32; kernel.len()];
    match *burn_shape {
        [o, i, kh, kw] => {
            // Keras [y][x][c][f] → Burn [f][c][y][x].
            for f in 0..o {
                for c in 0..i {
                    for y in 0..kh {
                        for x in 0..kw {
                            out[((f * i + c) * kh + y) * kw + x] =
                                kernel[((y * kw + x) * i + c) * o + f];
                        }
                    }
                }
            }
        }
        [o, i, k] => {
            // Keras [t][c][f] → Burn [f][c][t].
            for f in 0..o {
                for c in 0..i {
                    for t in 0..k {
                        out[(f * i + c) * k + t] = kernel[(t * i + c) * o + f];
                    }
                }
            }
        }
        [rows, cols] => match flatten {
            // Burn row c·S + s is Keras row s·C + c (S: the spatial size, s: its flat index).
            Some([channels, spatial @ ..]) => {
                let size: usize = spatial.iter().product();
                for c in 0..*channels {
                    for s in 0..size {
                        let (burn, keras) = (c * size + s, s * channels + c);
                        out[burn * cols..(burn + 1) * cols]
                            .copy_from_slice(&kernel[keras * cols..(keras + 1) * cols]);
                    }
                }
                debug_assert_eq!(channels * size, rows);
            }
            _ => out.copy_from_slice(kernel),
        },
        _ => out.copy_from_slice(kernel),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_follows_keras_numbering() {
        let mut names = vec!["conv2d_10", "dense", "conv2d_2", "conv2d", "conv2d_1"];
        names.sort_by_key(|name| natural_key(name));
        assert_eq!(
            names,
            ["conv2d", "conv2d_1", "conv2d_2", "conv2d_10", "dense"]
        );
    }

    #[test]
    fn conv2d_kernels_move_from_hwio_to_oihw() {
        // Keras (kh=1, kw=2, in=2, out=3): value = 100·y + 10·x·… encodes each index.
        let (kh, kw, i, o) = (1, 2, 2, 3);
        let kernel: Vec<f32> = (0..kh * kw * i * o).map(|v| v as f32).collect();
        let burn = burn_weight(&kernel, &[o, i, kh, kw], None);
        for f in 0..o {
            for c in 0..i {
                for x in 0..kw {
                    let keras = ((x * i) + c) * o + f;
                    assert_eq!(burn[(f * i + c) * kw + x], keras as f32);
                }
            }
        }
    }

    #[test]
    fn dense_rows_after_flatten_move_to_channels_first() {
        // Two channels over a 1×3 map: Keras rows are (s0c0, s0c1, s1c0, s1c1, s2c0, s2c1).
        let kernel: Vec<f32> = (0..6).map(|v| v as f32).collect();
        let burn = burn_weight(&kernel, &[6, 1], Some(&[2, 1, 3]));
        assert_eq!(burn, [0.0, 2.0, 4.0, 1.0, 3.0, 5.0]);
    }
}
