//! UEA/UCR `.ts` files, the sktime/aeon text format: `@` header lines (`@problemName`,
//! `@univariate`, `@dimensions`, `@equalLength`, `@seriesLength`, `@classLabel true <labels…>`,
//! `@data`), then one case per line: dimensions separated by `:`, values by `,`, the class label
//! last; `?` is a missing value.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::batch::SequenceItem;
use crate::error::DataError;

/// How series of another length are brought to the model's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeriesLength {
    /// Resample by linear interpolation (stretch or squeeze).
    Interpolate,
    /// Cut longer series, pad shorter ones at the end with the channel mean (0 after
    /// standardisation).
    Pad,
}

/// One parsed file: its cases (channels of raw values) and the header's labels.
#[derive(Debug, Clone, PartialEq)]
pub struct TsFile {
    /// `@problemName`, if given.
    pub problem: Option<String>,
    /// Class labels in header order (index = class).
    pub labels: Vec<String>,
    /// Per case: one `Vec<f32>` per dimension (NaN where `?`), and the class index.
    pub cases: Vec<(Vec<Vec<f32>>, usize)>,
}

/// Parses a `.ts` file's text; errors name `path` and the line.
pub fn parse(path: &Path, text: &str) -> Result<TsFile, DataError> {
    let error =
        |line: usize, message: String| DataError::format(path, format!("line {line}: {message}"));
    let mut problem = None;
    let mut dimensions: Option<usize> = None;
    let mut labels: Option<Vec<String>> = None;
    let mut in_data = false;
    let mut cases = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let number = number + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !in_data {
            let Some(header) = line.strip_prefix('@') else {
                return Err(error(
                    number,
                    format!("expected an @ header line before @data, found `{line}`"),
                ));
            };
            let mut words = header.split_whitespace();
            let key = words.next().unwrap_or("").to_ascii_lowercase();
            let rest: Vec<&str> = words.collect();
            match key.as_str() {
                "problemname" => problem = rest.first().map(|s| s.to_string()),
                "dimensions" => {
                    let value = rest
                        .first()
                        .and_then(|v| v.parse().ok())
                        .filter(|&d: &usize| d > 0);
                    dimensions = Some(value.ok_or_else(|| {
                        error(
                            number,
                            format!("@dimensions needs a positive integer, got {rest:?}"),
                        )
                    })?);
                }
                "classlabel" => {
                    if rest.first().map(|v| v.eq_ignore_ascii_case("true")) != Some(true) {
                        return Err(error(number, "@classLabel must be `true` followed by the labels: burn-zoo reads classification problems".into()));
                    }
                    labels = Some(rest[1..].iter().map(|s| s.to_string()).collect());
                }
                "data" => {
                    if labels.as_ref().is_none_or(Vec::is_empty) {
                        return Err(error(
                            number,
                            "@data before @classLabel true <labels…>".into(),
                        ));
                    }
                    in_data = true;
                }
                // @timeStamps, @missing, @univariate, @equalLength, @seriesLength, @targetLabel …:
                // the data lines say all that is needed.
                _ => {}
            }
            continue;
        }
        let labels = labels.as_ref().expect("checked at @data");
        let mut fields: Vec<&str> = line.split(':').collect();
        let label = fields.pop().unwrap_or("").trim();
        let class = labels.iter().position(|l| l == label).ok_or_else(|| {
            error(
                number,
                format!("class label `{label}` is not one of the header's {labels:?}"),
            )
        })?;
        if let Some(expected) = dimensions
            && fields.len() != expected
        {
            return Err(error(
                number,
                format!(
                    "{} dimensions, but the header says @dimensions {expected}",
                    fields.len()
                ),
            ));
        }
        let channels = fields
            .iter()
            .map(|field| {
                field
                    .split(',')
                    .map(|value| match value.trim() {
                        "?" => Ok(f32::NAN),
                        value => match value.parse::<f32>() {
                            Ok(v) if v.is_finite() => Ok(v),
                            _ => Err(error(
                                number,
                                format!(
                                    "`{value}` is not a finite number (write `?` for a \
                                     missing value)"
                                ),
                            )),
                        },
                    })
                    .collect::<Result<Vec<f32>, DataError>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(first) = cases.first().map(|(c, _): &(Vec<Vec<f32>>, usize)| c.len())
            && channels.len() != first
        {
            return Err(error(
                number,
                format!("{} dimensions, earlier cases have {first}", channels.len()),
            ));
        }
        cases.push((channels, class));
    }
    if !in_data {
        return Err(DataError::format(path, "no @data line"));
    }
    if cases.is_empty() {
        return Err(DataError::format(path, "no cases after @data"));
    }
    Ok(TsFile {
        problem,
        labels: labels.unwrap_or_default(),
        cases,
    })
}

/// Fills `?` (NaN) by linear interpolation between the nearest known values (the nearest one
/// at the ends; zeros if a series has none).
pub fn fill_missing(series: &mut [f32]) {
    let known: Vec<usize> = (0..series.len()).filter(|&i| !series[i].is_nan()).collect();
    if known.is_empty() {
        series.fill(0.0);
        return;
    }
    for i in 0..series.len() {
        if !series[i].is_nan() {
            continue;
        }
        let after = known.partition_point(|&k| k < i);
        series[i] = match (after.checked_sub(1).map(|b| known[b]), known.get(after)) {
            (Some(a), Some(&b)) => {
                let t = (i - a) as f32 / (b - a) as f32;
                series[a] + t * (series[b] - series[a])
            }
            (Some(a), None) => series[a],
            (None, Some(&b)) => series[b],
            (None, None) => 0.0,
        };
    }
}

/// Brings a series to `length` values.
pub fn resize(series: &[f32], length: usize, mode: SeriesLength) -> Vec<f32> {
    match mode {
        SeriesLength::Pad => {
            let mean = series.iter().sum::<f32>() / series.len().max(1) as f32;
            (0..length)
                .map(|i| series.get(i).copied().unwrap_or(mean))
                .collect()
        }
        SeriesLength::Interpolate if series.len() == 1 => vec![series[0]; length],
        SeriesLength::Interpolate => (0..length)
            .map(|i| {
                let position = if length == 1 {
                    0.0
                } else {
                    i as f32 * (series.len() - 1) as f32 / (length - 1) as f32
                };
                let left = position.floor() as usize;
                let right = (left + 1).min(series.len() - 1);
                let t = position - left as f32;
                series[left] * (1.0 - t) + series[right] * t
            })
            .collect(),
    }
}

/// Turns the cases of a training and a test file into standardised items of `[channels,
/// length]`: missing values filled, each series resized, then every channel standardised with
/// the training cases' mean and standard deviation. Labels keep the training header's order.
pub fn to_items(
    train: &TsFile,
    test: &TsFile,
    shape: [usize; 2],
    mode: SeriesLength,
    paths: [&Path; 2],
) -> Result<(Vec<SequenceItem>, Vec<SequenceItem>), DataError> {
    let [channels, length] = shape;
    let prepare = |file: &TsFile, path: &Path| -> Result<Vec<SequenceItem>, DataError> {
        file.cases
            .iter()
            .enumerate()
            .map(|(case, (series, class))| {
                if series.len() != channels {
                    return Err(DataError::format(
                        path,
                        format!("case {case} has {} dimensions but the model takes {channels} channels: set model.in_channels", series.len()),
                    ));
                }
                let mut values = Vec::with_capacity(channels * length);
                for channel in series {
                    let mut channel = channel.clone();
                    fill_missing(&mut channel);
                    values.extend(resize(&channel, length, mode));
                }
                let label = &file.labels[*class];
                let label = train.labels.iter().position(|l| l == label).ok_or_else(|| {
                    DataError::format(path, format!("class `{label}` does not occur in the training file's @classLabel"))
                })?;
                Ok(SequenceItem { values, label })
            })
            .collect()
    };
    let mut train_items = prepare(train, paths[0])?;
    let mut test_items = prepare(test, paths[1])?;
    for c in 0..channels {
        let range = c * length..(c + 1) * length;
        let count = (train_items.len() * length).max(1) as f64;
        let mean = train_items
            .iter()
            .flat_map(|item| &item.values[range.clone()])
            .map(|&v| v as f64)
            .sum::<f64>()
            / count;
        let variance = train_items
            .iter()
            .flat_map(|item| &item.values[range.clone()])
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / count;
        let std = variance.sqrt().max(1e-8);
        for item in train_items.iter_mut().chain(test_items.iter_mut()) {
            for v in &mut item.values[range.clone()] {
                *v = ((*v as f64 - mean) / std) as f32;
            }
        }
    }
    Ok((train_items, test_items))
}

/// The `*_TRAIN.ts` and `*_TEST.ts` files of a directory.
pub fn find_files(dir: &Path) -> Result<[std::path::PathBuf; 2], DataError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::io(dir, source))?;
    let names: Vec<std::path::PathBuf> = entries.flatten().map(|e| e.path()).collect();
    let find = |suffix: &str| {
        let found: Vec<&std::path::PathBuf> = names
            .iter()
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().to_uppercase().ends_with(suffix))
            })
            .collect();
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(DataError::format(
                dir,
                format!(
                    "no file ending in {0} (e.g. JapaneseVowels{0}; the case does not matter)",
                    suffix.replace(".TS", ".ts")
                ),
            )),
            many => Err(DataError::format(
                dir,
                format!(
                    "{} files end in {}; keep one problem per directory",
                    many.len(),
                    suffix.replace(".TS", ".ts")
                ),
            )),
        }
    };
    Ok([find("_TRAIN.TS")?, find("_TEST.TS")?])
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# a comment\n@problemName Toy\n@timeStamps false\n@univariate false\n\
        @dimensions 2\n@equalLength false\n@classLabel true up down\n@data\n\
        1,2,3:4,5,6:up\n3,?,1:0,0,0,0:down\n";

    #[test]
    fn parses_header_cases_missing_values_and_labels_in_header_order() {
        let file = parse(Path::new("Toy_TRAIN.ts"), GOOD).unwrap();
        assert_eq!(file.problem.as_deref(), Some("Toy"));
        assert_eq!(file.labels, ["up", "down"]);
        assert_eq!(file.cases.len(), 2);
        assert_eq!(
            file.cases[0],
            (vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]], 0)
        );
        assert!(file.cases[1].0[0][1].is_nan());
        assert_eq!(file.cases[1].1, 1);
    }

    #[test]
    fn wrong_dimension_count_names_file_and_line() {
        let text = GOOD.replace("3,?,1:0,0,0,0:down", "3,2,1:down");
        let message = parse(Path::new("Toy_TEST.ts"), &text)
            .unwrap_err()
            .to_string();
        assert!(
            message
                .contains("Toy_TEST.ts: line 10: 1 dimensions, but the header says @dimensions 2"),
            "{message}"
        );
        let text = GOOD.replace(":down", ":sideways");
        let message = parse(Path::new("x.ts"), &text).unwrap_err().to_string();
        assert!(message.contains("class label `sideways`"), "{message}");
        let text = GOOD.replace("1,2,3", "1,two,3");
        let message = parse(Path::new("x.ts"), &text).unwrap_err().to_string();
        assert!(
            message.contains("line 9: `two` is not a finite number"),
            "{message}"
        );
    }

    #[test]
    fn missing_values_are_interpolated_and_series_resized() {
        let mut series = [f32::NAN, 1.0, f32::NAN, f32::NAN, 4.0, f32::NAN];
        fill_missing(&mut series);
        assert_eq!(series, [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        assert_eq!(
            resize(&[0.0, 10.0], 5, SeriesLength::Interpolate),
            [0.0, 2.5, 5.0, 7.5, 10.0]
        );
        assert_eq!(
            resize(&[1.0, 3.0], 4, SeriesLength::Pad),
            [1.0, 3.0, 2.0, 2.0]
        );
        assert_eq!(resize(&[1.0, 2.0, 3.0], 2, SeriesLength::Pad), [1.0, 2.0]);
    }

    #[test]
    fn items_are_standardised_with_training_statistics() {
        let train = parse(Path::new("a"), GOOD).unwrap();
        let (train_items, test_items) = to_items(
            &train,
            &train,
            [2, 4],
            SeriesLength::Interpolate,
            [Path::new("a"), Path::new("a")],
        )
        .unwrap();
        assert_eq!(train_items.len(), 2);
        assert_eq!(train_items[0].values.len(), 8);
        for c in 0..2 {
            let values: Vec<f32> = train_items
                .iter()
                .flat_map(|i| i.values[c * 4..(c + 1) * 4].to_vec())
                .collect();
            let mean = values.iter().sum::<f32>() / values.len() as f32;
            assert!(mean.abs() < 1e-5, "channel {c} mean {mean}");
        }
        assert_eq!(train_items, test_items);
        let wrong = to_items(
            &train,
            &train,
            [3, 4],
            SeriesLength::Pad,
            [Path::new("a"), Path::new("b")],
        );
        assert!(
            wrong
                .unwrap_err()
                .to_string()
                .contains("model takes 3 channels")
        );
    }
}
