//! Evaluation of a trained classifier on a whole split: loss and accuracy, and for binary
//! tasks precision, recall, F1 and AUROC (threshold 0.5 on the sigmoid).

use burn::data::dataloader::DataLoader;
use burn::tensor::{TensorData, Transaction};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::host;
use crate::step::{Classifier, Classify, LabeledBatch, probabilities};

/// Metrics of one split.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvalMetrics {
    /// Items evaluated.
    pub items: usize,
    /// Mean per-item loss.
    pub loss: f64,
    /// Fraction correct, in percent (as Burn's accuracy metric).
    pub accuracy: f64,
    /// Binary tasks only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinaryMetrics>,
    /// Per class (index = label): items, correct predictions, items predicted as it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_class: Vec<ClassCounts>,
}

/// One class's counts on a split: its recall is `correct / items`, its precision
/// `correct / predicted`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct ClassCounts {
    /// Items of this class.
    pub items: usize,
    /// Items of this class predicted as it.
    pub correct: usize,
    /// Items (of any class) predicted as this class.
    pub predicted: usize,
}

/// The positive class is label 1. Percentages, as Burn's metrics report them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BinaryMetrics {
    /// 100 · TP / (TP + FP), 0 when nothing is predicted positive.
    pub precision: f64,
    /// 100 · TP / (TP + FN), 0 when there are no positives.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// 100 × the area under the ROC curve (ties count one half); 50 when one class is absent.
    pub auroc: f64,
}

/// Runs `model` (validation mode) over every batch of `loader`.
pub fn evaluate<M, B>(
    model: &Classifier<M, B>,
    loader: &dyn DataLoader<B>,
) -> Result<EvalMetrics, Error>
where
    B: LabeledBatch,
    M: Classify<B::Inputs>,
{
    let mut loss_sum = 0.0;
    let mut correct = 0usize;
    let mut items = 0usize;
    let binary = model.task == crate::Task::Binary;
    let mut scored: Vec<(f64, bool)> = Vec::new();
    let mut per_class: Vec<ClassCounts> = Vec::new();
    for batch in loader.iter() {
        let batch = batch.map_err(|error| Error::Batch(error.to_string()))?;
        let output = model.forward_batch(batch);
        let probabilities = probabilities(model.task, output.logits);
        // Two columns for a binary task's one logit.
        let [rows, columns] = probabilities.dims();
        // One read per batch; padding rows (past `items`) are not scored.
        let n = output.items.min(rows);
        let transaction = Transaction::default()
            .register(probabilities)
            .register(output.targets)
            .register(output.losses);
        let [probs, targets, losses]: [TensorData; 3] = host::read(transaction)
            .map_err(|error| Error::Backend(format!("reading a batch's outputs: {error:?}")))?
            .try_into()
            .expect("a transaction returns what was registered");
        let mut probs: Vec<f32> = values(probs)?;
        let mut targets: Vec<i64> = values(targets)?;
        let mut losses: Vec<f32> = values(losses)?;
        probs.truncate(n * columns);
        targets.truncate(n);
        losses.truncate(n);
        for (i, &target) in targets.iter().enumerate() {
            let row = &probs[i * columns..(i + 1) * columns];
            let predicted = row
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                .map_or(0, |(index, _)| index);
            correct += usize::from(predicted as i64 == target);
            let target = usize::try_from(target).unwrap_or(0);
            if per_class.len() <= target.max(predicted) {
                per_class.resize(target.max(predicted) + 1, ClassCounts::default());
            }
            per_class[target].items += 1;
            per_class[predicted].predicted += 1;
            per_class[target].correct += usize::from(predicted == target);
            if binary {
                scored.push((row[1] as f64, target == 1));
            }
        }
        loss_sum += losses.iter().map(|&l| l as f64).sum::<f64>();
        items += n;
    }
    if items == 0 {
        return Err(Error::Empty("the split has no items".into()));
    }
    Ok(EvalMetrics {
        items,
        loss: loss_sum / items as f64,
        accuracy: 100.0 * correct as f64 / items as f64,
        binary: binary.then(|| binary_metrics(&mut scored)),
        per_class,
    })
}

/// A tensor's values as `T`, on the host.
fn values<T: burn::tensor::Element>(data: TensorData) -> Result<Vec<T>, Error> {
    data.convert::<T>()
        .try_into_vec()
        .map_err(|error| Error::Backend(format!("reading a tensor: {error:?}")))
}

/// Precision, recall, F1 at threshold 0.5 and AUROC from (probability, is positive) pairs.
pub fn binary_metrics(scored: &mut [(f64, bool)]) -> BinaryMetrics {
    let (mut tp, mut fp, mut fneg) = (0.0, 0.0, 0.0);
    for &(p, positive) in scored.iter() {
        match (p > 0.5, positive) {
            (true, true) => tp += 1.0,
            (true, false) => fp += 1.0,
            (false, true) => fneg += 1.0,
            (false, false) => {}
        }
    }
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fneg);
    let f1 = ratio(2.0 * precision * recall, precision + recall);
    BinaryMetrics {
        precision: 100.0 * precision,
        recall: 100.0 * recall,
        f1: 100.0 * f1,
        auroc: 100.0 * auroc(scored),
    }
}

/// Mann–Whitney AUROC: the probability that a random positive outranks a random negative.
fn auroc(scored: &mut [(f64, bool)]) -> f64 {
    let positives = scored.iter().filter(|s| s.1).count() as f64;
    let negatives = scored.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return 0.5;
    }
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut wins, mut negatives_below, mut i) = (0.0, 0.0, 0);
    while i < scored.len() {
        let (mut pos, mut neg, score) = (0.0, 0.0, scored[i].0);
        while i < scored.len() && scored[i].0 == score {
            if scored[i].1 {
                pos += 1.0
            } else {
                neg += 1.0
            }
            i += 1;
        }
        wins += pos * (negatives_below + neg / 2.0);
        negatives_below += neg;
    }
    wins / (positives * negatives)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_metrics_of_a_small_example() {
        let mut scored = vec![
            (0.9, true),
            (0.8, false),
            (0.7, true),
            (0.2, false),
            (0.4, true),
        ];
        let m = binary_metrics(&mut scored);
        // Predicted positive: 0.9 (TP), 0.8 (FP), 0.7 (TP); 0.4 positive missed.
        assert!((m.precision - 200.0 / 3.0).abs() < 1e-9);
        assert!((m.recall - 200.0 / 3.0).abs() < 1e-9);
        assert!((m.f1 - 200.0 / 3.0).abs() < 1e-9);
        // Pairs (pos, neg): 0.9>0.8, 0.9>0.2, 0.7<0.8, 0.7>0.2, 0.4<0.8, 0.4>0.2 → 4/6.
        assert!((m.auroc - 400.0 / 6.0).abs() < 1e-9);
    }

    #[test]
    fn auroc_counts_ties_as_half_and_is_chance_without_both_classes() {
        let mut tied = vec![(0.5, true), (0.5, false)];
        assert_eq!(binary_metrics(&mut tied).auroc, 50.0);
        let mut one_class = vec![(0.1, true), (0.9, true)];
        assert_eq!(binary_metrics(&mut one_class).auroc, 50.0);
    }
}
