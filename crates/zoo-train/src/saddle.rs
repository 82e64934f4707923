//! The homework's Q1 point about saddle points, made runnable: Burn's own optimizers step a
//! two-parameter Burn module started next to the saddle of f(x, y) = x² − y² and of the monkey
//! saddle f(x, y) = x³ − 3xy², and we count the steps each needs to leave the saddle's
//! neighbourhood.

use crate::error::Error;
use burn::module::{Module, Param};
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, RmsPropConfig, SgdConfig};
use burn::tensor::{Device, Tensor, TensorData};
use serde::Serialize;

/// The two surfaces, both with a saddle point at the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Surface {
    /// f(x, y) = x² − y²: curved up along x, down along y.
    Saddle,
    /// f(x, y) = x³ − 3xy²: flat to second order at the origin (zero Hessian), three valleys.
    Monkey,
}

impl Surface {
    /// Both surfaces.
    pub const ALL: [Surface; 2] = [Surface::Saddle, Surface::Monkey];

    /// The name in CSV files and pictures.
    pub fn name(self) -> &'static str {
        match self {
            Surface::Saddle => "x^2 - y^2",
            Surface::Monkey => "x^3 - 3xy^2",
        }
    }

    /// f(x, y) in f64, for contours and checks.
    pub fn value(self, x: f64, y: f64) -> f64 {
        match self {
            Surface::Saddle => x * x - y * y,
            Surface::Monkey => x * x * x - 3.0 * x * y * y,
        }
    }

    /// f on a `[2]` tensor, differentiable.
    fn forward(self, xy: Tensor<1>) -> Tensor<1> {
        let x = xy.clone().slice(0..1);
        let y = xy.slice(1..2);
        match self {
            Surface::Saddle => x.clone() * x - y.clone() * y,
            Surface::Monkey => x.clone() * x.clone() * x.clone() - x * y.clone() * y * 3.0,
        }
    }
}

/// The optimizers compared, all Burn's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SaddleOptimizer {
    /// Plain gradient descent.
    Sgd,
    /// SGD with momentum 0.9 (no dampening).
    Momentum,
    /// RMSprop (α 0.99, ε 1e-8).
    RmsProp,
    /// Adam (β 0.9, 0.999, ε 1e-8).
    Adam,
}

impl SaddleOptimizer {
    /// All four, in the order they are printed.
    pub const ALL: [SaddleOptimizer; 4] = [
        SaddleOptimizer::Sgd,
        SaddleOptimizer::Momentum,
        SaddleOptimizer::RmsProp,
        SaddleOptimizer::Adam,
    ];

    /// The name in tables, CSV files and legends.
    pub fn name(self) -> &'static str {
        match self {
            SaddleOptimizer::Sgd => "SGD",
            SaddleOptimizer::Momentum => "SGD+momentum",
            SaddleOptimizer::RmsProp => "RMSprop",
            SaddleOptimizer::Adam => "Adam",
        }
    }

    fn build(self) -> ModuleOptimizer {
        match self {
            SaddleOptimizer::Sgd => SgdConfig::new().init(),
            SaddleOptimizer::Momentum => SgdConfig::new()
                .with_momentum(Some(MomentumConfig {
                    momentum: 0.9,
                    dampening: 0.0,
                    nesterov: false,
                }))
                .init(),
            SaddleOptimizer::RmsProp => RmsPropConfig::new()
                .with_alpha(0.99)
                .with_epsilon(1e-8)
                .with_momentum(0.0)
                .init(),
            SaddleOptimizer::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
        }
    }
}

/// The point (x, y) as a Burn module with one parameter.
#[derive(Module, Debug)]
pub struct Point {
    /// `[x, y]`.
    pub xy: Param<Tensor<1>>,
}

/// The experiment's settings.
#[derive(Debug, Clone, Copy)]
pub struct SaddleConfig {
    /// Learning rate of every optimizer.
    pub lr: f64,
    /// Start point, next to the saddle at the origin.
    pub start: (f64, f64),
    /// Steps per optimizer.
    pub steps: usize,
    /// The neighbourhood: a disc of this radius around the saddle.
    pub radius: f64,
}

impl SaddleConfig {
    /// Checks the settings: a positive learning rate and radius, at least one step, a finite
    /// start inside the disc.
    pub fn validate(&self) -> Result<(), Error> {
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(self.lr) {
            return Err(Error::Config(format!(
                "--lr must be a positive number, got {}",
                self.lr
            )));
        }
        if !positive(self.radius) {
            return Err(Error::Config(format!(
                "--radius must be a positive number, got {}",
                self.radius
            )));
        }
        if self.steps == 0 {
            return Err(Error::Config("--steps must be at least 1".to_string()));
        }
        let (x, y) = self.start;
        if !(x.is_finite() && y.is_finite() && x.hypot(y) < self.radius) {
            return Err(Error::Config(format!(
                "--start {x},{y} must be finite and inside the disc of --radius {}",
                self.radius
            )));
        }
        Ok(())
    }
}

impl Default for SaddleConfig {
    fn default() -> Self {
        Self {
            lr: 0.01,
            start: (0.5, 1e-3),
            steps: 500,
            radius: 1.0,
        }
    }
}

/// One optimizer's path on one surface.
#[derive(Debug, Clone, Serialize)]
pub struct Trajectory {
    /// The surface.
    pub surface: Surface,
    /// The optimizer.
    pub optimizer: SaddleOptimizer,
    /// (x, y) before step 1, after step 1, …; stops once it leaves the neighbourhood.
    pub points: Vec<(f64, f64)>,
    /// The first step after which the point is farther than `radius` from the saddle.
    pub escaped_at: Option<usize>,
}

/// Runs one optimizer on one surface on `device` (an autodiff device is made from it).
pub fn run_saddle(
    surface: Surface,
    optimizer: SaddleOptimizer,
    config: &SaddleConfig,
    device: &Device,
) -> Result<Trajectory, Error> {
    config.validate()?;
    let device = device.clone().autodiff();
    let start = [config.start.0 as f32, config.start.1 as f32];
    let mut point = Point {
        xy: Param::from_tensor(Tensor::from_data(
            TensorData::new(start.to_vec(), [2]),
            &device,
        )),
    };
    let mut optim = optimizer.build();
    let mut points = vec![config.start];
    let mut escaped_at = None;
    for step in 1..=config.steps {
        let loss = surface.forward(point.xy.val());
        let grads = GradientsParams::from_grads(loss.backward(), &point);
        point = optim.step(config.lr, point, grads);
        let xy: Vec<f32> = point
            .xy
            .val()
            .into_data()
            .convert::<f32>()
            .try_into_vec()
            .map_err(|e| Error::Backend(format!("reading the point back: {e:?}")))?;
        let (x, y) = (xy[0] as f64, xy[1] as f64);
        points.push((x, y));
        if !(x.is_finite() && y.is_finite()) || (x * x + y * y).sqrt() > config.radius {
            escaped_at = Some(step);
            break;
        }
    }
    Ok(Trajectory {
        surface,
        optimizer,
        points,
        escaped_at,
    })
}

/// `saddle.csv`: surface,optimizer,step,x,y,f — every point of every trajectory.
pub fn saddle_csv(trajectories: &[Trajectory]) -> String {
    let mut out = String::from("surface,optimizer,step,x,y,f\n");
    for t in trajectories {
        for (step, &(x, y)) in t.points.iter().enumerate() {
            out.push_str(&format!(
                "{},{},{step},{x},{y},{}\n",
                t.surface.name(),
                t.optimizer.name(),
                t.surface.value(x, y)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surfaces_have_their_formulas() {
        assert_eq!(Surface::Saddle.value(2.0, 3.0), -5.0);
        assert_eq!(Surface::Monkey.value(2.0, 1.0), 2.0);
    }
}
