//! Charts drawn with plotters as SVG text: lines, bars (with intervals) and a heatmap.
//! Each chart is an `<svg role="img">` with its title and description inside, so a screen
//! reader announces it; colours are the Okabe-Ito palette, which stays apart for the
//! colour-blind, and the second series of a line chart is dashed, so it also stays apart
//! in black-and-white print.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use std::ops::Range;
use std::sync::Once;

const WIDTH: u32 = 680;
const HEIGHT: u32 = 400;
const FONT: &str = "sans-serif";
/// Sizes as plotters takes them; it writes `font-size` at about 0.81 of these, so tick
/// labels come out at 12 or more in the SVG's units, and the SVG is drawn at least that
/// large (it fills its figure's width, which is wider than the chart's own).
const TICKS: u32 = 15;
const AXIS_NAMES: u32 = 17;
/// The smallest `font-size` a chart may write, in the SVG's units.
pub const MIN_FONT_SIZE: f64 = 12.0;

/// Okabe-Ito: blue, vermillion, bluish green, reddish purple, orange, sky blue.
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

#[derive(Debug, thiserror::Error)]
#[error("drawing the chart {title:?}: {problem}")]
pub struct ChartError {
    title: String,
    problem: String,
}

/// plotters measures text with a font it is given: DejaVu Sans, embedded, so that no
/// system font library is needed. The SVG only names the family; viewers use their own.
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // A font that does not parse leaves plotters without metrics: its text then fails
        // to draw, and the chart says so through its error.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

/// What every chart has: a title, a sentence for those who cannot see it, axis names.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Unique within the page: the SVG's title and description are referred to by it.
    pub id: String,
    pub title: String,
    pub description: String,
    pub x_label: String,
    pub y_label: String,
}

/// Axis numbers with as many decimals as the axis's scale needs: 9000, 12.5, 0.25.
fn axis_number(top: f64) -> impl Fn(&f64) -> String {
    let decimals = if top >= 100.0 {
        0
    } else if top >= 10.0 {
        1
    } else {
        2
    };
    move |v| format!("{v:.decimals$}")
}

/// Where a line chart's legend sits: away from where its curves run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    LowerRight,
    UpperRight,
    /// Under the plot, outside it: for charts whose points may sit anywhere.
    Below,
}

/// The height of one legend line drawn below a chart.
const LEGEND_LINE: u32 = 24;

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

fn failed(frame: &Frame) -> impl Fn(String) -> ChartError + '_ {
    move |problem| ChartError {
        title: frame.title.clone(),
        problem,
    }
}

/// The SVG as a screen reader needs it: `role="img"`, labelled by its own title and
/// description.
fn accessible(svg: String, frame: &Frame) -> String {
    // plotters writes the root element; only its opening is replaced, with the id escaped.
    let id = maud::html! { (frame.id) }.into_string();
    let head = format!("<svg role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" ");
    let labels = maud::html! {
        title id={ (frame.id) "-title" } { (frame.title) }
        desc id={ (frame.id) "-desc" } { (frame.description) }
    }
    .into_string();
    let svg = svg.replacen("<svg ", &head, 1);
    // As wide as its figure, the height following the view box: no fixed pixel size.
    let svg = responsive(&svg);
    match svg.find('>') {
        Some(end) => format!("{}{labels}{}", &svg[..=end], &svg[end + 1..]),
        None => svg,
    }
}

/// The root element's fixed `width` and `height` replaced by `width="100%"`: the view box
/// keeps the proportions.
fn responsive(svg: &str) -> String {
    let Some(end) = svg.find('>') else {
        return svg.to_owned();
    };
    let (head, rest) = svg.split_at(end);
    let kept: Vec<&str> = head
        .split(' ')
        .filter(|part| !part.starts_with("height=\""))
        .map(|part| {
            if part.starts_with("width=\"") {
                "width=\"100%\""
            } else {
                part
            }
        })
        .collect();
    format!("{}{rest}", kept.join(" "))
}

/// A first series of at most this many points is drawn with a mark at each point: it is
/// groups (bins, deciles), not a curve, and a line between them alone would hide that.
const MARKED_POINTS: usize = 20;

/// Lines over numeric axes; the first series solid, the others dashed.
pub fn lines(
    frame: &Frame,
    x: Range<f64>,
    y: Range<f64>,
    series: &[Series],
    legend: Legend,
) -> Result<String, ChartError> {
    let (x_number, y_number) = (axis_number(x.end), axis_number(y.end));
    register_font();
    let err = failed(frame);
    let below = match legend {
        Legend::Below => 12 + LEGEND_LINE * series.len() as u32,
        _ => 0,
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT + below)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let (plot, under) = root.split_vertically(HEIGHT);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(52)
            .y_label_area_size(76)
            .build_cartesian_2d(x, y)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(frame.x_label.as_str())
            .y_desc(frame.y_label.as_str())
            .x_label_formatter(&x_number)
            .y_label_formatter(&y_number)
            .label_style((FONT, TICKS))
            .axis_desc_style((FONT, AXIS_NAMES))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (i, s) in series.iter().enumerate() {
            if i == 0 && s.points.len() <= MARKED_POINTS {
                let colour = PALETTE[i % PALETTE.len()];
                chart
                    .draw_series(s.points.iter().map(|&p| Circle::new(p, 4, colour.filled())))
                    .map_err(|e| err(e.to_string()))?;
            }
            let colour = PALETTE[i % PALETTE.len()];
            let style = colour.stroke_width(2);
            let points = s.points.iter().copied();
            let drawn = if i == 0 {
                chart.draw_series(LineSeries::new(points, style))
            } else {
                chart.draw_series(DashedLineSeries::new(points, 8, 4, style))
            };
            drawn
                .map_err(|e| err(e.to_string()))?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(2))
                });
        }
        let corner = match legend {
            Legend::LowerRight => Some(SeriesLabelPosition::LowerRight),
            Legend::UpperRight => Some(SeriesLabelPosition::UpperRight),
            Legend::Below => None,
        };
        if let Some(corner) = corner {
            chart
                .configure_series_labels()
                .position(corner)
                .label_font((FONT, TICKS))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.4))
                .draw()
                .map_err(|e| err(e.to_string()))?;
        } else {
            legend_below(&under, series).map_err(&err)?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(accessible(svg, frame))
}

/// The series' names in a column under the plot, left-aligned with it, each after a
/// sample of its line (solid for the first, dashed for the others).
fn legend_below<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    series: &[Series],
) -> Result<(), String> {
    let left = 12 + 76;
    for (i, s) in series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let y = 6 + LEGEND_LINE as i32 * i as i32 + LEGEND_LINE as i32 / 2;
        let segments: Vec<(i32, i32)> = if i == 0 {
            vec![(0, 28)]
        } else {
            vec![(0, 8), (12, 20), (24, 28)]
        };
        for (a, b) in segments {
            area.draw(&PathElement::new(
                vec![(left + a, y), (left + b, y)],
                colour.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        }
        let style =
            TextStyle::from((FONT, TICKS).into_font()).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Center,
            ));
        area.draw(&Text::new(s.name.clone(), (left + 36, y), style))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A bar per category, along the x axis (`Vertical`) or down the y axis (`Horizontal`,
/// for long names), each with an optional interval drawn as an error bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    Vertical,
    Horizontal,
}

pub fn bars(
    frame: &Frame,
    categories: &[String],
    values: &[f64],
    intervals: Option<&[Option<(f64, f64)>]>,
    orientation: Orientation,
) -> Result<String, ChartError> {
    register_font();
    let err = failed(frame);
    let n = categories.len().max(1);
    let top = values
        .iter()
        .copied()
        .chain(intervals.into_iter().flatten().flatten().map(|(_, hi)| *hi))
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let name_of = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => categories.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    // Across, the first category is drawn at the top, as a list reads.
    let from_top = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => categories.get(n - 1 - *i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let number = axis_number(top);
    let colour = PALETTE[0];
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        match orientation {
            Orientation::Vertical => {
                let mut chart = ChartBuilder::on(&root)
                    .margin(12)
                    .x_label_area_size(52)
                    .y_label_area_size(76)
                    .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top)
                    .map_err(|e| err(e.to_string()))?;
                chart
                    .configure_mesh()
                    .disable_x_mesh()
                    .x_labels(n)
                    .x_label_formatter(&name_of)
                    .y_label_formatter(&number)
                    .x_desc(frame.x_label.as_str())
                    .y_desc(frame.y_label.as_str())
                    .label_style((FONT, TICKS))
                    .axis_desc_style((FONT, AXIS_NAMES))
                    .light_line_style(WHITE.mix(0.0))
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
                chart
                    .draw_series(values.iter().enumerate().map(|(i, &v)| {
                        let mut bar = Rectangle::new(
                            [
                                (SegmentValue::Exact(i), 0.0),
                                (SegmentValue::Exact(i + 1), v),
                            ],
                            colour.filled(),
                        );
                        bar.set_margin(0, 0, 6, 6);
                        bar
                    }))
                    .map_err(|e| err(e.to_string()))?;
                if let Some(intervals) = intervals {
                    chart
                        .draw_series(intervals.iter().zip(values).enumerate().filter_map(
                            |(i, (interval, &v))| {
                                let (lo, hi) = (*interval)?;
                                Some(ErrorBar::new_vertical(
                                    SegmentValue::CenterOf(i),
                                    lo,
                                    v,
                                    hi,
                                    BLACK.stroke_width(2),
                                    12,
                                ))
                            },
                        ))
                        .map_err(|e| err(e.to_string()))?;
                }
            }
            Orientation::Horizontal => {
                let mut chart = ChartBuilder::on(&root)
                    .margin(12)
                    .x_label_area_size(52)
                    .y_label_area_size(270)
                    .build_cartesian_2d(0.0..top, (0..n - 1).into_segmented())
                    .map_err(|e| err(e.to_string()))?;
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .y_labels(n)
                    .y_label_formatter(&from_top)
                    .x_label_formatter(&number)
                    .x_desc(frame.x_label.as_str())
                    .y_desc(frame.y_label.as_str())
                    .label_style((FONT, TICKS))
                    .axis_desc_style((FONT, AXIS_NAMES))
                    .light_line_style(WHITE.mix(0.0))
                    .draw()
                    .map_err(|e| err(e.to_string()))?;
                chart
                    .draw_series(values.iter().enumerate().map(|(i, &v)| {
                        let y = n - 1 - i;
                        let mut bar = Rectangle::new(
                            [
                                (0.0, SegmentValue::Exact(y)),
                                (v, SegmentValue::Exact(y + 1)),
                            ],
                            colour.filled(),
                        );
                        bar.set_margin(3, 3, 0, 0);
                        bar
                    }))
                    .map_err(|e| err(e.to_string()))?;
                if let Some(intervals) = intervals {
                    chart
                        .draw_series(intervals.iter().zip(values).enumerate().filter_map(
                            |(i, (interval, &v))| {
                                let (lo, hi) = (*interval)?;
                                Some(ErrorBar::new_horizontal(
                                    SegmentValue::CenterOf(n - 1 - i),
                                    lo,
                                    v,
                                    hi,
                                    BLACK.stroke_width(2),
                                    10,
                                ))
                            },
                        ))
                        .map_err(|e| err(e.to_string()))?;
                }
            }
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(accessible(svg, frame))
}

/// Blue for -1, white for 0, vermillion for +1.
fn diverging(v: f64) -> RGBColor {
    let v = v.clamp(-1.0, 1.0);
    let (end, t) = if v < 0.0 {
        (PALETTE[0], -v)
    } else {
        (PALETTE[1], v)
    };
    let mix = |a: u8| (255.0 + (f64::from(a) - 255.0) * t).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

/// A square matrix of values in -1..=1, rows and columns named alike; the columns are
/// numbered, the rows carry `number name`.
pub fn heatmap(frame: &Frame, names: &[String], matrix: &[Vec<f64>]) -> Result<String, ChartError> {
    register_font();
    let err = failed(frame);
    let n = names.len().max(1);
    let rows: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, name)| format!("{} {name}", i + 1))
        .collect();
    let row_of = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => rows.get(n - 1 - *i).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let column_of = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => (i + 1).to_string(),
        _ => String::new(),
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT + 120)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(52)
            .y_label_area_size(280)
            .build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented())
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(n)
            .y_labels(n)
            .x_label_formatter(&column_of)
            .y_label_formatter(&row_of)
            .x_desc(frame.x_label.as_str())
            .label_style((FONT, TICKS))
            .axis_desc_style((FONT, AXIS_NAMES))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        // Row 0 at the top, as a table reads.
        chart
            .draw_series(matrix.iter().enumerate().flat_map(|(r, row)| {
                row.iter().enumerate().map(move |(c, &v)| {
                    let y = n - 1 - r;
                    Rectangle::new(
                        [
                            (SegmentValue::Exact(c), SegmentValue::Exact(y)),
                            (SegmentValue::Exact(c + 1), SegmentValue::Exact(y + 1)),
                        ],
                        diverging(v).filled(),
                    )
                })
            }))
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    Ok(accessible(svg, frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame {
            id: "test-chart".into(),
            title: "A title & more".into(),
            description: "What it shows".into(),
            x_label: "x (units)".into(),
            y_label: "y (units)".into(),
        }
    }

    #[test]
    fn each_chart_is_an_svg_named_for_screen_readers() {
        let line = lines(
            &frame(),
            0.0..1.0,
            0.0..1.0,
            &[
                Series {
                    name: "model".into(),
                    points: vec![(0.0, 0.0), (0.5, 0.8), (1.0, 1.0)],
                },
                Series {
                    name: "constant".into(),
                    points: vec![(0.0, 0.0), (1.0, 1.0)],
                },
            ],
            Legend::LowerRight,
        )
        .expect("a line chart");
        let names = ["a".to_owned(), "b".to_owned()];
        let bar = bars(
            &frame(),
            &names,
            &[1.0, 2.0],
            Some(&[Some((0.5, 1.5)), None]),
            Orientation::Vertical,
        )
        .expect("a bar chart");
        let across = bars(&frame(), &names, &[1.0, 2.0], None, Orientation::Horizontal)
            .expect("horizontal bars");
        let heat =
            heatmap(&frame(), &names, &[vec![1.0, -0.5], vec![-0.5, 1.0]]).expect("a heatmap");
        for svg in [line, bar, across, heat] {
            assert!(svg.starts_with("<svg role=\"img\""), "{}", &svg[..80]);
            assert!(svg.contains("<title id=\"test-chart-title\">A title &amp; more</title>"));
            assert!(svg.contains("<desc id=\"test-chart-desc\">What it shows</desc>"));
            assert!(svg.contains("x (units)") || svg.contains("y (units)"));
            assert!(svg.trim_end().ends_with("</svg>"));
        }
    }

    /// The values of one attribute on every element that has it.
    fn attribute(svg: &str, name: &str) -> Vec<f64> {
        let key = format!(" {name}=\"");
        svg.match_indices(&key)
            .filter_map(|(at, _)| {
                let rest = &svg[at + key.len()..];
                rest[..rest.find('"')?].parse().ok()
            })
            .collect()
    }

    #[test]
    fn charts_fill_their_figure_with_type_of_at_least_12_units() {
        let series = [Series {
            name: "model".into(),
            points: vec![(0.0, 0.0), (0.5, 0.8), (1.0, 1.0)],
        }];
        let names = ["a".to_owned(), "b".to_owned()];
        let svgs = [
            lines(&frame(), 0.0..1.0, 0.0..1.0, &series, Legend::LowerRight).expect("lines"),
            lines(&frame(), 0.0..1.0, 0.0..1.0, &series, Legend::Below).expect("lines"),
            bars(&frame(), &names, &[1.0, 2.0], None, Orientation::Vertical).expect("bars"),
            bars(&frame(), &names, &[1.0, 2.0], None, Orientation::Horizontal).expect("bars"),
            heatmap(&frame(), &names, &[vec![1.0, -0.5], vec![-0.5, 1.0]]).expect("heatmap"),
        ];
        for svg in svgs {
            let root = &svg[..svg.find('>').expect("a root element")];
            assert!(root.contains(" width=\"100%\""), "{root}");
            assert!(!root.contains(" height="), "{root}");
            assert!(root.contains(" viewBox=\"0 0 "), "{root}");
            let sizes = attribute(&svg, "font-size");
            assert!(!sizes.is_empty());
            let smallest = sizes.iter().copied().fold(f64::INFINITY, f64::min);
            assert!(smallest >= MIN_FONT_SIZE, "a font-size of {smallest}");
        }
    }

    #[test]
    fn a_legend_below_stays_clear_of_every_point() {
        // Points in every corner: no corner of the plot is free for a legend.
        let corners = vec![
            (0.02, 0.02),
            (0.02, 0.98),
            (0.98, 0.02),
            (0.98, 0.98),
            (0.5, 0.5),
        ];
        let svg = lines(
            &frame(),
            0.0..1.0,
            0.0..1.0,
            &[
                Series {
                    name: "model, ECE 0.0123".into(),
                    points: corners,
                },
                Series {
                    name: "perfectly calibrated".into(),
                    points: vec![(0.0, 0.0), (1.0, 1.0)],
                },
            ],
            Legend::Below,
        )
        .expect("a chart");
        let lowest_point = attribute(&svg, "cy")
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max);
        let radius = attribute(&svg, "r").into_iter().fold(0.0, f64::max);
        assert_eq!(attribute(&svg, "cy").len(), 5, "a mark at each point");
        for name in ["model, ECE 0.0123", "perfectly calibrated"] {
            let at = svg
                .find(&format!(">\n{name}\n<"))
                .expect("the name in the legend");
            let tag = &svg[svg[..at].rfind("<text").expect("a text element")..at];
            let y = attribute(tag, "y")[0];
            // The legend's text (its half height above its middle) sits under every mark.
            assert!(
                y - MIN_FONT_SIZE > lowest_point + radius,
                "{name} at y {y}, a point at {lowest_point}"
            );
        }
        // No legend box drawn inside the plot either.
        assert!(!svg.contains("fill-opacity=\"0.9\""));
    }

    #[test]
    fn the_diverging_scale_runs_blue_white_vermillion() {
        assert_eq!(diverging(0.0), RGBColor(255, 255, 255));
        assert_eq!(diverging(-1.0), PALETTE[0]);
        assert_eq!(diverging(1.0), PALETTE[1]);
        assert_eq!(diverging(7.0), PALETTE[1]);
    }
}
