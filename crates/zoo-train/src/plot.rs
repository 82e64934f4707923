//! Line charts as PNG files: `curves.png` and the pictures of the LR range test, sweeps and
//! the saddle demo all go through [`render_png`]. Drawn with plotters into an RGB buffer,
//! text with an embedded DejaVu Sans (no system font library needed), PNG-encoded by `image`.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::atomic::write_atomic;
use crate::error::Error;

/// DejaVu Sans, Bitstream Vera license (assets/DejaVuSans-LICENSE.txt).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Colours cycled through the series of a panel.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// One named line.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points; non-finite points are left out.
    pub points: Vec<(f64, f64)>,
    /// Draw a marker at each point as well as the line.
    pub markers: bool,
    /// A thin, light line behind the others (raw per-step values under their smoothed line).
    pub faint: bool,
}

/// One chart of a figure.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// Title above the chart.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis (when every value is positive).
    pub log_y: bool,
    /// The lines.
    pub series: Vec<Series>,
    /// Vertical marks: (x, label), e.g. where the divergence guard fired.
    pub marks: Vec<(f64, String)>,
    /// The x values are counts (epochs, steps): whole-number tick labels.
    pub integer_x: bool,
    /// Upper end of the y axis; larger values are drawn at the edge. None: fit the data.
    pub y_max: Option<f64>,
}

/// Draws `panels` in a grid of `columns` columns into a `width` × `height` PNG at `path`
/// (atomically).
pub fn render_png(
    path: &Path,
    panels: &[Panel],
    columns: usize,
    (width, height): (u32, u32),
) -> Result<(), Error> {
    register_font();
    let mut buffer = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| Error::Plot(e.to_string()))?;
        let columns = columns.max(1);
        let rows = panels.len().div_ceil(columns).max(1);
        let areas = root.split_evenly((rows, columns));
        for (area, panel) in areas.iter().zip(panels) {
            draw_panel(area, panel)
                .map_err(|e| Error::Plot(format!("drawing `{}`: {e}", panel.title)))?;
        }
        root.present().map_err(|e| Error::Plot(e.to_string()))?;
    }
    encode_png(path, width, height, buffer)
}

/// Registers the embedded font with plotters, once.
fn register_font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The embedded font is known-good; a failure would only lose the text.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// PNG-encodes an RGB buffer and writes it atomically.
fn encode_png(path: &Path, width: u32, height: u32, buffer: Vec<u8>) -> Result<(), Error> {
    let image = image::RgbImage::from_raw(width, height, buffer)
        .ok_or_else(|| Error::Plot("plot buffer has the wrong size".to_string()))?;
    let mut png = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| Error::Plot(format!("encoding {}: {e}", path.display())))?;
    write_atomic(path, &png).map_err(|e| Error::io(format!("writing {}", path.display()), e))
}

/// Tick labels: plain for moderate magnitudes, scientific otherwise (1e-5, not 9.99…e-6).
fn compact(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if (0.01..10_000.0).contains(&a) {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        let text = format!("{v:.1e}");
        text.replace(".0e", "e")
    }
}

/// The range of `values` padded by 5 %, or a unit range around a single value.
fn padded(values: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        if hi <= lo * 1.01 {
            return (lo / 2.0, hi * 2.0);
        }
        let ratio = (hi / lo).powf(0.05);
        return (lo / ratio, hi * ratio);
    }
    if hi - lo <= 1e-9 * hi.abs().max(lo.abs()) {
        let half = (0.1 * hi.abs()).max(0.5);
        return (lo - half, hi + half);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

fn draw_panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    panel: &Panel,
) -> Result<(), Box<dyn std::error::Error>> {
    let points = || panel.series.iter().flat_map(|s| s.points.iter());
    let log_y = panel.log_y && points().all(|(_, y)| *y > 0.0 || !y.is_finite());
    let x = padded(
        points().map(|p| p.0).chain(panel.marks.iter().map(|m| m.0)),
        panel.log_x,
    );
    let y_cap = panel.y_max.unwrap_or(f64::INFINITY);
    let y = padded(points().map(|p| p.1.min(y_cap)), log_y);
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&panel.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64);
    // Four coordinate combinations are four chart types in plotters.
    match (panel.log_x, log_y) {
        (false, false) => {
            let chart = builder.build_cartesian_2d(x.0..x.1, y.0..y.1)?;
            finish(chart, panel, y)
        }
        (true, false) => {
            let chart = builder.build_cartesian_2d((x.0..x.1).log_scale(), y.0..y.1)?;
            finish(chart, panel, y)
        }
        (false, true) => {
            let chart = builder.build_cartesian_2d(x.0..x.1, (y.0..y.1).log_scale())?;
            finish(chart, panel, y)
        }
        (true, true) => {
            let chart =
                builder.build_cartesian_2d((x.0..x.1).log_scale(), (y.0..y.1).log_scale())?;
            finish(chart, panel, y)
        }
    }
}

fn finish<'a, X, Y>(
    mut chart: ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    panel: &Panel,
    (y_lo, y_hi): (f64, f64),
) -> Result<(), Box<dyn std::error::Error>>
where
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    let whole = |x: &f64| format!("{x:.0}");
    let compact = |v: &f64| compact(*v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .label_style(("sans-serif", 13))
        .light_line_style(RGBColor(235, 235, 235));
    if panel.integer_x {
        let mut xs: Vec<i64> = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0.round() as i64))
            .collect();
        xs.sort_unstable();
        xs.dedup();
        mesh.x_labels(xs.len().clamp(2, 10))
            .x_label_formatter(&whole);
    } else {
        mesh.x_label_formatter(&compact);
    }
    mesh.y_label_formatter(&compact);
    mesh.draw()?;
    for (index, series) in panel.series.iter().enumerate() {
        let color = PALETTE[index % PALETTE.len()];
        let points: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| (x, y.min(y_hi)))
            .collect();
        let style = if series.faint {
            color.mix(0.3).stroke_width(1)
        } else {
            color.stroke_width(2)
        };
        chart
            .draw_series(LineSeries::new(points.clone(), style))?
            .label(series.name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        if series.markers {
            chart.draw_series(
                points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
            )?;
        }
    }
    for (index, (x, label)) in panel.marks.iter().enumerate() {
        let red = RGBColor(200, 0, 0);
        chart.draw_series(LineSeries::new(
            vec![(*x, y_lo), (*x, y_hi)],
            red.stroke_width(2),
        ))?;
        // Labels step down so that marks close together stay readable.
        let y = if y_lo > 0.0 && y_hi / y_lo > 100.0 {
            y_hi / (y_hi / y_lo).powf(0.06 * index as f64)
        } else {
            y_hi - (y_hi - y_lo) * 0.06 * index as f64
        };
        // Labels of marks in the right half end at their line instead of starting there.
        let (x_lo, x_hi) = (chart.x_range().start, chart.x_range().end);
        let right = if panel.log_x && x_lo > 0.0 {
            (x / x_lo).ln() / (x_hi / x_lo).ln() > 0.6
        } else {
            (x - x_lo) / (x_hi - x_lo) > 0.6
        };
        let (text, anchor) = if right {
            (
                format!("{} ", label.trim()),
                Pos::new(HPos::Right, VPos::Top),
            )
        } else {
            (
                format!(" {}", label.trim()),
                Pos::new(HPos::Left, VPos::Top),
            )
        };
        chart.draw_series(std::iter::once(Text::new(
            text,
            (*x, y),
            ("sans-serif", 13).into_font().color(&red).pos(anchor),
        )))?;
    }
    if panel.series.len() > 1 || panel.series.iter().any(|s| !s.name.is_empty()) {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()?;
    }
    Ok(())
}

/// A filled-contour chart of f(x, y) on [-range, range]², with paths drawn over it.
pub struct ContourPanel {
    /// Title above the chart.
    pub title: String,
    /// The function.
    pub f: fn(f64, f64) -> f64,
    /// Half-width of the square drawn.
    pub range: f64,
    /// Colour bands (filled contours) between the 2nd and 98th percentile of f.
    pub levels: usize,
    /// A circle of this radius around the origin (the neighbourhood), if any.
    pub circle: Option<f64>,
    /// Paths, each with its start marked.
    pub series: Vec<Series>,
}

/// Draws contour panels side by side into a PNG at `path` (atomically).
pub fn render_contours_png(
    path: &Path,
    panels: &[ContourPanel],
    (width, height): (u32, u32),
) -> Result<(), Error> {
    register_font();
    let mut buffer = vec![0u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| Error::Plot(e.to_string()))?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for (area, panel) in areas.iter().zip(panels) {
            draw_contours(area, panel)
                .map_err(|e| Error::Plot(format!("drawing `{}`: {e}", panel.title)))?;
        }
        root.present().map_err(|e| Error::Plot(e.to_string()))?;
    }
    encode_png(path, width, height, buffer)
}

fn draw_contours(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    panel: &ContourPanel,
) -> Result<(), Box<dyn std::error::Error>> {
    let r = panel.range;
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(-r..r, -r..r)?;
    chart
        .configure_mesh()
        .x_desc("x")
        .y_desc("y")
        .label_style(("sans-serif", 13))
        .disable_mesh()
        .draw()?;
    let cells = 120;
    let step = 2.0 * r / cells as f64;
    let centre = |i: usize| -r + (i as f64 + 0.5) * step;
    let mut values: Vec<f64> = (0..cells * cells)
        .map(|k| (panel.f)(centre(k % cells), centre(k / cells)))
        .collect();
    let mut sorted = values.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let lo = sorted[sorted.len() / 50];
    let hi = sorted[sorted.len() - 1 - sorted.len() / 50];
    let levels = panel.levels.max(2) as f64;
    for value in &mut values {
        // Band index in [0, 1]: quantised so the band edges read as contour lines.
        let t = ((*value - lo) / (hi - lo).max(1e-12)).clamp(0.0, 1.0);
        *value = (t * levels).floor().min(levels - 1.0) / (levels - 1.0);
    }
    chart.draw_series((0..cells * cells).map(|k| {
        let (i, j) = (k % cells, k / cells);
        let (x0, y0) = (-r + i as f64 * step, -r + j as f64 * step);
        let t = values[k];
        // Blue (low) to white to red (high).
        let (red, green, blue) = if t < 0.5 {
            let u = t * 2.0;
            (70.0 + 185.0 * u, 110.0 + 145.0 * u, 200.0 + 55.0 * u)
        } else {
            let u = (t - 0.5) * 2.0;
            (255.0 - 35.0 * u, 255.0 - 175.0 * u, 255.0 - 185.0 * u)
        };
        Rectangle::new(
            [(x0, y0), (x0 + step, y0 + step)],
            RGBColor(red as u8, green as u8, blue as u8).filled(),
        )
    }))?;
    if let Some(radius) = panel.circle {
        let circle: Vec<(f64, f64)> = (0..=128)
            .map(|k| {
                let a = k as f64 / 128.0 * std::f64::consts::TAU;
                (radius * a.cos(), radius * a.sin())
            })
            .collect();
        chart.draw_series(LineSeries::new(
            circle,
            RGBColor(90, 90, 90).stroke_width(1),
        ))?;
    }
    let trajectory_colors = [
        BLACK,
        RGBColor(0, 150, 0),
        RGBColor(160, 0, 160),
        RGBColor(230, 120, 0),
    ];
    for (index, series) in panel.series.iter().enumerate() {
        let color = trajectory_colors[index % trajectory_colors.len()];
        let inside: Vec<(f64, f64)> = series
            .points
            .iter()
            .copied()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| (x.clamp(-r, r), y.clamp(-r, r)))
            .collect();
        chart
            .draw_series(LineSeries::new(inside.clone(), color.stroke_width(2)))?
            .label(series.name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        if let Some(&start) = inside.first() {
            chart.draw_series(std::iter::once(Circle::new(start, 4, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_png_of_the_requested_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.png");
        let panel = Panel {
            title: "loss".into(),
            x_label: "epoch".into(),
            y_label: "loss".into(),
            log_y: true,
            series: vec![Series {
                name: "train".into(),
                points: vec![(1.0, 2.0), (2.0, 1.0), (3.0, f64::NAN)],
                markers: true,
                faint: false,
            }],
            marks: vec![(2.0, "diverged".into())],
            ..Panel::default()
        };
        render_png(&path, &[panel.clone(), panel], 2, (640, 240)).unwrap();
        let image = image::open(&path).unwrap();
        assert_eq!((image.width(), image.height()), (640, 240));
        // Something besides the white background was drawn.
        let rgb = image.to_rgb8();
        assert!(rgb.pixels().any(|p| p.0 != [255, 255, 255]));
    }
}
