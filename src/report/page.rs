//! The report as one self-contained HTML page: inline SVG and an inline style sheet, no
//! script, font or style fetched from anywhere. Each figure carries its title, a sentence
//! saying what it shows, and its numbers in a table under a disclosure, for screen readers
//! and for anyone who wants the values.

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// A figure's numbers, as a table.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(columns: &[&str]) -> Table {
        Table {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn html(&self, caption: Option<&str>) -> Markup {
        html! {
            table {
                @if let Some(caption) = caption {
                    caption { (caption) }
                }
                thead { tr { @for c in &self.columns { th scope="col" { (c) } } } }
                tbody {
                    @for row in &self.rows {
                        tr {
                            @for (i, cell) in row.iter().enumerate() {
                                @if i == 0 { th scope="row" { (cell) } } @else { td { (cell) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What a figure shows: a chart, or a table that is the figure itself (a confusion
/// matrix reads best as one).
#[derive(Debug, Clone)]
pub enum Body {
    Svg(String),
    Table,
}

#[derive(Debug, Clone)]
pub struct Figure {
    pub id: String,
    pub title: String,
    /// One or two sentences: what is drawn, in which units, and what to read from it.
    pub description: String,
    pub body: Body,
    pub data: Table,
}

#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    /// The section's headline figures, name and value, shown in the summary at the top.
    pub headline: Vec<(String, String)>,
    /// A paragraph of plain text before the figures.
    pub intro: String,
    pub figures: Vec<Figure>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub title: String,
    /// Lines under the title: data file, versions, date.
    pub facts: Vec<String>,
    pub sections: Vec<Section>,
}

const STYLE: &str = "
body { font-family: sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.7rem; } h2 { font-size: 1.35rem; margin-top: 2.5rem; border-bottom: 1px solid #bbb; }
nav ol { columns: 2; }
figure { margin: 1.5rem 0; padding: 0.75rem; border: 1px solid #ddd; break-inside: avoid; }
figure svg { width: 100%; height: auto; display: block; }
.summary { border: 2px solid #0b4f8a; background: #f3f7fb; padding: 0.5rem 1rem; margin: 1rem 0; }
.summary h2 { margin: 0.25rem 0 0.5rem; border: 0; font-size: 1.2rem; }
.summary dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1rem; margin: 0; }
.summary dt { font-weight: bold; } .summary dd { margin: 0; }
figcaption { margin-top: 0.5rem; }
figcaption strong { display: block; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
th[scope=row] { text-align: left; }
caption { text-align: left; font-weight: bold; }
details summary { cursor: pointer; color: #0b4f8a; }
.matrix td { min-width: 7rem; }
@media print {
  body { margin: 0; max-width: none; }
  details > table { display: table; }
  details summary { display: none; }
  nav { display: none; }
  h2 { break-before: page; }
}
";

impl Page {
    /// The page; maud escapes every text and attribute value, so only the charts' SVG (made
    /// by plotters and `chart`) and the style sheet go in as they are. The line breaks only
    /// keep the source readable.
    pub fn html(&self) -> String {
        let headline: Vec<&(String, String)> =
            self.sections.iter().flat_map(|x| &x.headline).collect();
        html! {
            (DOCTYPE) "\n"
            html lang="en" {
                "\n"
                head {
                    "\n" meta charset="utf-8";
                    "\n" meta name="viewport" content="width=device-width, initial-scale=1";
                    "\n" title { (self.title) }
                    "\n" style { (PreEscaped(STYLE)) }
                    "\n"
                }
                "\n"
                body {
                    "\n"
                    main {
                        "\n" h1 { (self.title) } "\n"
                        @if !self.facts.is_empty() {
                            ul class="facts" { @for f in &self.facts { li { (f) } } } "\n"
                        }
                        @if !headline.is_empty() {
                            section class="summary" aria-labelledby="summary-title" {
                                h2 id="summary-title" { "Summary" }
                                dl { @for (name, value) in &headline { dt { (name) } dd { (value) } } }
                            }
                            "\n"
                        }
                        nav aria-label="Figures" {
                            ol {
                                @for f in self.sections.iter().flat_map(|s| &s.figures) {
                                    li { a href={ "#" (f.id) } { (f.title) } }
                                }
                            }
                        }
                        "\n"
                        @for section in &self.sections {
                            section {
                                "\n" h2 { (section.title) }
                                "\n" p { (section.intro) } "\n"
                                @for f in &section.figures {
                                    figure id=(f.id) { (figure_body(f)) } "\n"
                                }
                            }
                            "\n"
                        }
                    }
                    "\n"
                }
                "\n"
            }
            "\n"
        }
        .into_string()
    }
}

fn figure_body(f: &Figure) -> Markup {
    match &f.body {
        Body::Svg(svg) => html! {
            (PreEscaped(svg))
            figcaption { strong { (f.title) } (f.description) }
            details { summary { "The numbers" } (f.data.html(None)) }
        },
        Body::Table => html! {
            div class="matrix" { (f.data.html(Some(&f.title))) }
            figcaption { (f.description) }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_its_figures_and_nothing_from_elsewhere() {
        let mut data = Table::new(&["x", "y"]);
        data.row(vec!["<1>".into(), "2".into()]);
        let page = Page {
            title: "Report".into(),
            facts: vec!["data: a.csv".into()],
            sections: vec![Section {
                title: "Data".into(),
                headline: vec![("ROC-AUC".into(), "0.9 <best>".into())],
                intro: "About the data.".into(),
                figures: vec![
                    Figure {
                        id: "f1".into(),
                        title: "First".into(),
                        description: "Shows things.".into(),
                        body: Body::Svg("<svg role=\"img\"></svg>".into()),
                        data: data.clone(),
                    },
                    Figure {
                        id: "f2".into(),
                        title: "Second".into(),
                        description: "A table.".into(),
                        body: Body::Table,
                        data,
                    },
                ],
            }],
        };
        let html = page.html();
        assert!(html.contains("<figure id=\"f1\"><svg role=\"img\"></svg>"));
        assert!(html.contains("<th scope=\"row\">&lt;1&gt;</th>"));
        assert!(html.contains("<caption>Second</caption>"));
        assert!(html.contains("href=\"#f2\""));
        // The headline figures come first, in a summary box before the figures.
        let summary = html.find("<section class=\"summary\"").expect("a summary");
        assert!(summary < html.find("<figure").expect("a figure"));
        assert!(html.contains("<dt>ROC-AUC</dt><dd>0.9 &lt;best&gt;</dd>"));
        for outside in [
            "<script",
            "<link",
            "src=\"http",
            "href=\"http",
            "@import",
            "url(",
        ] {
            assert!(!html.contains(outside), "{outside}");
        }
    }
}
