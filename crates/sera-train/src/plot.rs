//! The loss plot: the one module that talks to `plotters`.

use std::path::Path;

use plotters::prelude::*;

use crate::error::{Error, Result};

/// Draws training loss per step as a line and validation loss as points, to a PNG file.
pub fn loss_png(path: &Path, train: &[(usize, f64)], val: &[(usize, f64)]) -> Result<()> {
    draw(path, train, val)
        .map_err(|e| Error::Plot { path: path.to_path_buf(), message: e.to_string() })
}

fn draw(
    path: &Path,
    train: &[(usize, f64)],
    val: &[(usize, f64)],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let finite = |v: &&(usize, f64)| v.1.is_finite();
    let all: Vec<&(usize, f64)> = train.iter().chain(val).filter(finite).collect();
    let max_step = all.iter().map(|p| p.0).max().unwrap_or(1).max(1);
    let max_loss = all.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1e-3) * 1.05;
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .margin(10)
        .build_cartesian_2d(0.0..max_step as f64, 0.0f64..max_loss)?;
    // Built without font support (no system font dependency), so the plot carries no text: x is
    // the optimizer step from 0, y the loss from 0 (nats per trained token), with a grid line
    // every tenth of each range.
    let grid = RGBColor(220, 220, 220);
    for i in 0..=10 {
        let (x, y) = (max_step as f64 * f64::from(i) / 10.0, max_loss * f64::from(i) / 10.0);
        chart.draw_series(LineSeries::new([(x, 0.0), (x, max_loss)], &grid))?;
        chart.draw_series(LineSeries::new([(0.0, y), (max_step as f64, y)], &grid))?;
    }
    let point = |&(s, l): &(usize, f64)| (s as f64, l);
    chart.draw_series(LineSeries::new(train.iter().filter(finite).map(point), &BLUE))?;
    chart.draw_series(val.iter().filter(finite).map(|p| Circle::new(point(p), 4, RED.filled())))?;
    root.present()?;
    Ok(())
}
