//! burn-zoo in a web page: a trained image run (`weights/fashion-inception`) classifies files
//! dropped on the page or garments drawn on its canvas, in the browser, on Burn's Flex backend.
//!
//! [`Classifier`] is plain Rust, tested natively; on wasm32 the `wasm` module wraps it for
//! JavaScript. Preprocessing is [`zoo_data::Preprocess::values`], the code `zoo predict` runs,
//! so the page and the command line feed the model the same floats.

use std::path::Path;

use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::activation::softmax;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use cifar_inception::{CifarInception, CifarInceptionConfig};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zoo_data::Preprocess;
use zoo_model::Weights;

/// The largest file the page hands to the decoder, in bytes: a photograph is a few MB, and a
/// larger upload is refused with a message before it fills the page's memory.
pub const MAX_FILE_BYTES: usize = 32 << 20;

/// The model as zoo-cli's registry holds it: an enum, whose variant name is part of every path
/// in model.bpk (`model.CifarInception.conv1.weight`). One variant here: the page runs
/// cifar-inception runs.
#[derive(Module, Debug)]
enum Model {
    CifarInception(CifarInception),
}

/// A trained run, ready to classify images.
pub struct Classifier {
    model: CifarInception,
    preprocess: Preprocess,
    device: Device,
}

/// One image's answer: every class's probability (in class order) and the top classes.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    /// Softmax probabilities, by class index.
    pub probabilities: Vec<f32>,
    /// The `top` most probable classes, most probable first.
    pub top: Vec<Ranked>,
}

/// A class and its probability.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    /// Class index.
    pub index: usize,
    /// Class name (from the run's preprocess.json).
    pub class: String,
    /// Probability, 0–1.
    pub probability: f32,
}

impl Classifier {
    /// Builds the run's model from its files' contents: `config.toml` (the `[model]` table),
    /// `preprocess.json`, `model.bpk` and `model.bpk.sha256` (checked first: a damaged
    /// download would otherwise load as slightly different weights, without an error).
    pub fn new(
        config_toml: &str,
        preprocess_json: &str,
        weights: Vec<u8>,
        sha256_line: &str,
    ) -> Result<Self, String> {
        let expected = sha256_line.split_whitespace().next().unwrap_or("");
        let actual = format!("{:x}", Sha256::digest(&weights));
        if expected != actual {
            return Err(format!(
                "model.bpk: checksum mismatch (model.bpk.sha256 says {expected:?}, the {} bytes \
                 received hash to {actual}): the download is damaged or the two files are from \
                 different runs",
                weights.len()
            ));
        }
        let config = model_config(config_toml)?;
        let preprocess = Preprocess::parse(preprocess_json, Path::new("preprocess.json"))
            .map_err(|error| error.to_string())?;
        let shape = [config.in_channels, config.image_size, config.image_size];
        if preprocess.shape != shape || preprocess.classes.len() != config.num_classes {
            return Err(format!(
                "preprocess.json (shape {:?}, {} classes) does not fit config.toml's model \
                 (shape {shape:?}, {} classes)",
                preprocess.shape,
                preprocess.classes.len(),
                config.num_classes
            ));
        }
        config
            .validate()
            .map_err(|error| format!("config.toml: {error}"))?;
        let device = Device::flex();
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(weights))
            .map_err(|error| format!("model.bpk: not a burnpack file: {error:?}"))?;
        let Model::CifarInception(model) = Weights {
            model: Model::CifarInception(config.init(&device)),
        }
        .try_load_record(record)
        .map_err(|error| format!("model.bpk does not fit config.toml's model: {error:?}"))?
        .model;
        Ok(Self {
            model,
            preprocess,
            device,
        })
    }

    /// The class names, by index.
    pub fn classes(&self) -> &[String] {
        &self.preprocess.classes
    }

    /// Classifies one image file's bytes (PNG, JPEG or BMP); `name` labels errors.
    pub fn classify(&self, bytes: &[u8], name: &str, top: usize) -> Result<Prediction, String> {
        if bytes.len() > MAX_FILE_BYTES {
            return Err(format!(
                "{name}: {:.1} MiB, more than this page takes ({} MiB)",
                bytes.len() as f64 / f64::from(1 << 20),
                MAX_FILE_BYTES >> 20
            ));
        }
        let values = self
            .preprocess
            .values(bytes, Path::new(name))
            .map_err(|error| error.to_string())?;
        let [c, h, w] = self.preprocess.shape;
        let input = Tensor::<4>::from_data(TensorData::new(values, [1, c, h, w]), &self.device);
        let probabilities = softmax(self.model.forward(input), 1)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|error| format!("reading the probabilities: {error:?}"))?;
        if probabilities.iter().any(|p| !p.is_finite()) {
            return Err(
                "the model's outputs are not finite numbers: model.bpk holds non-finite \
                        weights"
                    .into(),
            );
        }
        let mut ranked: Vec<usize> = (0..probabilities.len()).collect();
        ranked.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
        let top = ranked
            .into_iter()
            .take(top.max(1))
            .map(|index| Ranked {
                index,
                class: self.preprocess.classes[index].clone(),
                probability: probabilities[index],
            })
            .collect();
        Ok(Prediction { probabilities, top })
    }
}

/// The `[model]` table of a run's config.toml, as cifar-inception's config.
fn model_config(config_toml: &str) -> Result<CifarInceptionConfig, String> {
    let mut table: toml::Table =
        toml::from_str(config_toml).map_err(|error| format!("config.toml: {error}"))?;
    let Some(toml::Value::Table(mut model)) = table.remove("model") else {
        return Err("config.toml: no [model] table".into());
    };
    match model.remove("kind") {
        Some(toml::Value::String(kind)) if kind == "cifar-inception" => {}
        other => {
            return Err(format!(
                "config.toml: model.kind is {other:?}; this page runs \"cifar-inception\" runs"
            ));
        }
    }
    model
        .try_into()
        .map_err(|error| format!("config.toml: [model]: {error}"))
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use wasm_bindgen::prelude::*;

    /// The page's handle on a [`super::Classifier`].
    #[wasm_bindgen]
    pub struct Classifier(super::Classifier);

    #[wasm_bindgen]
    impl Classifier {
        /// See [`super::Classifier::new`]; errors are JavaScript `Error`s with the message.
        #[wasm_bindgen(constructor)]
        pub fn new(
            config_toml: &str,
            preprocess_json: &str,
            weights: Vec<u8>,
            sha256_line: &str,
        ) -> Result<Classifier, JsError> {
            super::Classifier::new(config_toml, preprocess_json, weights, sha256_line)
                .map(Classifier)
                .map_err(|message| JsError::new(&message))
        }

        /// The class names, by index.
        pub fn classes(&self) -> Vec<String> {
            self.0.classes().to_vec()
        }

        /// A [`super::Prediction`] as JSON text.
        pub fn classify(&self, bytes: &[u8], name: &str, top: usize) -> Result<String, JsError> {
            let prediction = self
                .0
                .classify(bytes, name, top)
                .map_err(|message| JsError::new(&message))?;
            serde_json::to_string(&prediction).map_err(|error| JsError::new(&error.to_string()))
        }
    }

    /// The largest file the page passes in, in bytes.
    #[wasm_bindgen(js_name = maxFileBytes)]
    pub fn max_file_bytes() -> usize {
        super::MAX_FILE_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../weights/fashion-inception");

    fn file(name: &str) -> String {
        std::fs::read_to_string(format!("{RUN}/{name}")).unwrap()
    }

    fn weights() -> Vec<u8> {
        std::fs::read(format!("{RUN}/model.bpk")).unwrap()
    }

    fn shipped() -> Classifier {
        Classifier::new(
            &file("config.toml"),
            &file("preprocess.json"),
            weights(),
            &file("model.bpk.sha256"),
        )
        .unwrap()
    }

    /// A 28×28 grayscale PNG: a bright block (trouser-like legs) on black.
    fn png() -> Vec<u8> {
        let mut pixels = vec![0u8; 28 * 28];
        for y in 3..26 {
            for x in (8..13).chain(15..20) {
                pixels[y * 28 + x] = 200;
            }
        }
        let mut out = Vec::new();
        image::GrayImage::from_raw(28, 28, pixels)
            .unwrap()
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn the_shipped_run_classifies_an_image() {
        let classifier = shipped();
        assert_eq!(classifier.classes().len(), 10);
        let prediction = classifier.classify(&png(), "legs.png", 5).unwrap();
        assert_eq!(prediction.probabilities.len(), 10);
        let sum: f32 = prediction.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "{sum}");
        assert_eq!(prediction.top.len(), 5);
        assert!(
            prediction
                .top
                .windows(2)
                .all(|w| w[0].probability >= w[1].probability)
        );
        assert_eq!(
            prediction.top[0].class,
            classifier.classes()[prediction.top[0].index]
        );
    }

    #[test]
    fn bad_files_are_messages() {
        let classifier = shipped();
        let error = |bytes: &[u8], name| classifier.classify(bytes, name, 5).unwrap_err();
        assert!(error(b"", "empty.png").contains("empty.png: an empty file"));
        assert!(error(b"plain text", "notes.txt").contains("notes.txt: not an image"));
        assert!(error(&png()[..60], "cut.png").contains("cut.png: cannot decode image"));
        let big = vec![0u8; MAX_FILE_BYTES + 1];
        assert!(error(&big, "big.png").contains("more than this page takes"));
    }

    #[test]
    fn damaged_or_mismatched_run_files_are_refused() {
        let mut damaged = weights();
        damaged[1000] ^= 1;
        let sha = file("model.bpk.sha256");
        let (config, pre) = (file("config.toml"), file("preprocess.json"));
        let message = Classifier::new(&config, &pre, damaged, &sha).err().unwrap();
        assert!(
            message.contains("model.bpk: checksum mismatch"),
            "{message}"
        );
        let other = config.replace("kind = \"cifar-inception\"", "kind = \"binary-cnn\"");
        let message = Classifier::new(&other, &pre, weights(), &sha)
            .err()
            .unwrap();
        assert!(message.contains("model.kind"), "{message}");
        let narrow = config.replace("stem = [32, 64]", "stem = [16, 64]");
        let message = Classifier::new(&narrow, &pre, weights(), &sha)
            .err()
            .unwrap();
        assert!(message.contains("does not fit"), "{message}");
        let rgb = pre.replacen("1,", "3,", 1);
        let message = Classifier::new(&config, &rgb, weights(), &sha)
            .err()
            .unwrap();
        assert!(message.contains("does not fit config.toml"), "{message}");
    }
}
