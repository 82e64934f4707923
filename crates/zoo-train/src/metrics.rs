//! The global gradient norm as a burn-train metric. Metrics cannot see gradients, so the
//! train step computes the squared norm and carries it in its output ([`GradNormInput`]).

use std::sync::Arc;

use burn::tensor::TensorReadError;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    Metric, MetricAttributes, MetricMetadata, MetricName, Numeric, NumericAttributes, NumericEntry,
    SerializedEntry,
};

use crate::step::GradNormInput;

/// The name the gradient norm has in Burn's logs, the TUI and `metrics.csv`.
pub const GRAD_NORM: &str = "Gradient Norm";

/// L2 norm of all gradients as one vector, before clipping; the epoch value is the mean.
#[derive(Clone)]
pub struct GradNormMetric {
    name: MetricName,
    state: NumericMetricState,
}

impl Default for GradNormMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl GradNormMetric {
    /// A new metric.
    pub fn new() -> Self {
        Self {
            name: Arc::new(GRAD_NORM.to_string()),
            state: NumericMetricState::default(),
        }
    }
}

impl Metric for GradNormMetric {
    type Input = GradNormInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        input: &GradNormInput,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        if let Some(squared) = &input.squared {
            let squared = squared.clone().try_into_scalar::<f64>()?;
            self.state.update(squared.sqrt(), 1);
        }
        Ok(self
            .state
            .compute_update(FormatOptions::new(self.name()).precision(3)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self
            .state
            .compute_final(FormatOptions::new(self.name()).precision(3)))
    }

    fn clear(&mut self) {
        self.state.reset()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: false,
        }
        .into()
    }
}

impl Numeric for GradNormMetric {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}
