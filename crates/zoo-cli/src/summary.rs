//! A Keras-style `model.summary()`: layer, output shape, parameters and MACs per layer, from a
//! real forward pass, then totals. Rows come from the model crates' `forward_traced`.

use std::fmt;

use serde::Serialize;

/// One traced layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerRow {
    /// Dotted path in the module tree (`inception.branch3x3.reduce`).
    pub path: String,
    /// Layer type (`Conv2d+ReLU`, `MaxPool2d`, …).
    pub kind: String,
    /// Output shape, batch first, channels first (Burn's layout).
    pub output_shape: Vec<usize>,
    /// Parameters of the layer (for a parent row: of all its children).
    pub params: usize,
    /// Multiply-accumulates per item.
    pub macs: u64,
}

impl LayerRow {
    /// Nesting depth: 0 for top-level layers.
    pub fn depth(&self) -> usize {
        self.path.matches('.').count()
    }

    /// The last segment of the path.
    pub fn name(&self) -> &str {
        self.path.rsplit('.').next().unwrap_or(&self.path)
    }

    /// The output shape without the batch, channels last like Keras (`(498, 16)`) or
    /// channels first like Burn (`(16, 498)`).
    pub fn shape_text(&self, channels_last: bool) -> String {
        let mut dims = self.output_shape[1..].to_vec();
        if channels_last && dims.len() > 1 {
            dims.rotate_left(1);
        }
        let dims: Vec<String> = dims.iter().map(usize::to_string).collect();
        format!("(None, {})", dims.join(", "))
    }
}

/// The summary of one model for one input shape.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The model's registry name.
    pub model: String,
    /// The input shape used, batch first.
    pub input_shape: Vec<usize>,
    /// Layers in display order (a parent row before its children).
    pub rows: Vec<LayerRow>,
    /// All parameters (`Module::num_params`).
    pub total_params: usize,
    /// Parameters that take gradients.
    pub trainable_params: usize,
    /// Print output shapes channels last (Keras) rather than channels first (Burn).
    #[serde(skip)]
    pub channels_last: bool,
}

impl Summary {
    /// Builds a summary from traced rows. Parent rows (reported after their children, when
    /// their output is known) are moved before their first child.
    pub fn new(
        model: &str,
        input_shape: Vec<usize>,
        traced: Vec<LayerRow>,
        total_params: usize,
        trainable_params: usize,
    ) -> Self {
        let mut rows: Vec<LayerRow> = Vec::with_capacity(traced.len());
        for row in traced {
            let prefix = format!("{}.", row.path);
            match rows
                .iter()
                .position(|earlier| earlier.path.starts_with(&prefix))
            {
                Some(first_child) => rows.insert(first_child, row),
                None => rows.push(row),
            }
        }
        Self {
            model: model.to_string(),
            input_shape,
            rows,
            total_params,
            trainable_params,
            channels_last: true,
        }
    }

    /// Multiply-accumulates per item, summed over top-level rows.
    pub fn total_macs(&self) -> u64 {
        self.top_level().map(|row| row.macs).sum()
    }

    /// Parameters summed over top-level rows; equals `total_params` when every layer is traced.
    pub fn traced_params(&self) -> usize {
        self.top_level().map(|row| row.params).sum()
    }

    fn top_level(&self) -> impl Iterator<Item = &LayerRow> {
        self.rows.iter().filter(|row| row.depth() == 0)
    }
}

/// `1,492,225`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Bytes of f32 parameters as Keras prints them (`1.90 MB`, 1 MB = 1024² bytes).
fn size_text(params: usize) -> String {
    let bytes = params as f64 * 4.0;
    match bytes {
        b if b >= 1024.0 * 1024.0 => format!("{:.2} MB", b / (1024.0 * 1024.0)),
        b if b >= 1024.0 => format!("{:.2} KB", b / 1024.0),
        b => format!("{b:.2} B"),
    }
}

/// `23.41 M`.
fn macs_text(macs: u64) -> String {
    match macs as f64 {
        m if m >= 1e9 => format!("{:.2} G", m / 1e9),
        m if m >= 1e6 => format!("{:.2} M", m / 1e6),
        m if m >= 1e3 => format!("{:.2} K", m / 1e3),
        m => format!("{m}"),
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layout = if self.channels_last {
            "channels last, like Keras"
        } else {
            "channels first, like Burn"
        };
        let header = ["Layer (type)", "Output Shape", "Param #", "MACs"];
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|row| {
                [
                    format!("{}{} ({})", "  ".repeat(row.depth()), row.name(), row.kind),
                    row.shape_text(self.channels_last),
                    thousands(row.params as u64),
                    thousands(row.macs),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for row in &cells {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line_width = widths.iter().sum::<usize>() + 3 * 3;
        let input: Vec<String> = self.input_shape[1..].iter().map(usize::to_string).collect();
        writeln!(
            f,
            "Model: \"{}\"  (input [{}], output shapes {layout})",
            self.model,
            input.join(", ")
        )?;
        writeln!(f, "{}", "━".repeat(line_width))?;
        let write_row = |f: &mut fmt::Formatter<'_>, row: &[String; 4]| {
            writeln!(
                f,
                "{:<w0$}   {:<w1$}   {:>w2$}   {:>w3$}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            )
        };
        write_row(f, &header.map(String::from))?;
        writeln!(f, "{}", "━".repeat(line_width))?;
        for row in &cells {
            write_row(f, row)?;
        }
        writeln!(f, "{}", "━".repeat(line_width))?;
        let non_trainable = self.total_params - self.trainable_params;
        writeln!(
            f,
            " Total params: {} ({})",
            thousands(self.total_params as u64),
            size_text(self.total_params)
        )?;
        writeln!(
            f,
            " Trainable params: {} ({})",
            thousands(self.trainable_params as u64),
            size_text(self.trainable_params)
        )?;
        writeln!(
            f,
            " Non-trainable params: {} ({})",
            thousands(non_trainable as u64),
            size_text(non_trainable)
        )?;
        writeln!(
            f,
            " Total MACs: {} ({} per item)",
            macs_text(self.total_macs()),
            thousands(self.total_macs())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(path: &str, shape: &[usize], params: usize) -> LayerRow {
        LayerRow {
            path: path.into(),
            kind: "T".into(),
            output_shape: shape.to_vec(),
            params,
            macs: params as u64,
        }
    }

    #[test]
    fn parent_rows_move_before_their_children() {
        let traced = vec![
            row("a", &[1, 2], 1),
            row("b.x", &[1, 2], 2),
            row("b.y", &[1, 2], 3),
            row("b", &[1, 4], 5),
            row("c", &[1, 2], 4),
        ];
        let summary = Summary::new("m", vec![1, 2], traced, 10, 10);
        let paths: Vec<&str> = summary.rows.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["a", "b", "b.x", "b.y", "c"]);
        assert_eq!(summary.traced_params(), 10);
        assert_eq!(summary.total_macs(), 10);
    }

    #[test]
    fn shapes_print_channels_last_or_first() {
        let conv = row("conv1", &[1, 16, 498], 352);
        assert_eq!(conv.shape_text(true), "(None, 498, 16)");
        assert_eq!(conv.shape_text(false), "(None, 16, 498)");
        let dense = row("dense", &[1, 128], 0);
        assert_eq!(dense.shape_text(true), "(None, 128)");
    }

    #[test]
    fn numbers_print_like_keras() {
        assert_eq!(thousands(497_349), "497,349");
        assert_eq!(thousands(645), "645");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(size_text(497_349), "1.90 MB");
    }
}
