use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where an experiment's examples come from: the `[data]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Which format (and loader) the data is in.
    pub kind: DataKind,
    /// Directory holding the files; `None` means the cache (`ZOO_DATA_DIR`, default
    /// `~/.cache/burn-zoo`) for downloadable sets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Use only the first N training items (quick runs); `None` uses all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Fraction of the training items held out for validation, as Keras' `validation_split`.
    pub valid_fraction: f64,
    /// Seed of the split, the shuffling and the augmentation.
    pub seed: u64,
    /// Random crop (4-pixel zero padding) and horizontal flip for image sets.
    pub augment: bool,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            kind: DataKind::Synthetic,
            dir: None,
            limit: None,
            valid_fraction: 0.1,
            seed: 42,
            augment: false,
        }
    }
}

impl DataConfig {
    /// Checks the values serde cannot: ranges.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..1.0).contains(&self.valid_fraction) {
            return Err(format!(
                "data.valid_fraction must be in [0, 1), got {}",
                self.valid_fraction
            ));
        }
        if self.limit == Some(0) {
            return Err("data.limit must be at least 1 (or absent for all items), got 0".into());
        }
        Ok(())
    }
}

/// The dataset formats burn-zoo reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataKind {
    /// CIFAR-10 in its official binary layout (`cifar-10-batches-bin/`).
    Cifar10,
    /// IDX files: MNIST, Fashion-MNIST (raw or gzip).
    Idx,
    /// `root/<class>/*.png|jpg|bmp`.
    ImageFolder,
    /// UEA/UCR `.ts` sequence files.
    Ts,
    /// Deterministic generated data with a learnable signal (tests, offline demos).
    Synthetic,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_config_round_trips_through_toml() {
        let config = DataConfig {
            kind: DataKind::ImageFolder,
            dir: Some("data/cats-vs-dogs".into()),
            limit: Some(500),
            valid_fraction: 0.2,
            seed: 7,
            augment: true,
        };
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<DataConfig>(&text).unwrap(), config);
    }

    #[test]
    fn valid_fraction_out_of_range_is_rejected() {
        let config = DataConfig {
            valid_fraction: 1.5,
            ..DataConfig::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .contains("data.valid_fraction")
        );
    }
}
