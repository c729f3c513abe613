//! Email templates (minijinja): shipped under `templates/` and embedded, each replaceable by a
//! file of the same name in `mail.templates_dir`. `.html` templates escape every value, so
//! nothing a source wrote can become markup. Counts stay numbers in the context (a template may
//! compare them); the `number` filter writes one as Vietnamese text does, `{{ n | number }}`
//! giving "1.234".

use std::path::Path;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// The embedded defaults: subject, plain text and HTML of each kind of email.
const DEFAULTS: [(&str, &str); 6] = [
    (
        "digest.subject.txt",
        include_str!("../../templates/digest.subject.txt"),
    ),
    ("digest.txt", include_str!("../../templates/digest.txt")),
    ("digest.html", include_str!("../../templates/digest.html")),
    (
        "report.subject.txt",
        include_str!("../../templates/report.subject.txt"),
    ),
    ("report.txt", include_str!("../../templates/report.txt")),
    ("report.html", include_str!("../../templates/report.html")),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read the template {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the template {name} is invalid: {source:#}")]
    Compile {
        name: String,
        source: minijinja::Error,
    },
    #[error("cannot render the template {name}: {source:#}")]
    Render {
        name: String,
        source: minijinja::Error,
    },
}

/// The kinds of email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Digest,
    Report,
}

impl Kind {
    fn stem(self) -> &'static str {
        match self {
            Kind::Digest => "digest",
            Kind::Report => "report",
        }
    }
}

/// A rendered email's texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Compiles the templates, taking each from `dir` when it has a file of that name.
    pub fn load(dir: Option<&Path>) -> Result<Templates, TemplateError> {
        let mut env = Environment::new();
        // A misspelt variable in an operator's template fails the render loudly instead of
        // sending an email with a hole in it.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_filter("number", crate::sla::format_count);
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("a valid syntax"),
        );
        for (name, default) in DEFAULTS {
            let source = match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
                Some(path) => {
                    std::fs::read_to_string(&path).map_err(|source| TemplateError::Read {
                        path: path.display().to_string(),
                        source,
                    })?
                }
                None => default.to_string(),
            };
            env.add_template_owned(name, source)
                .map_err(|source| TemplateError::Compile {
                    name: name.to_string(),
                    source,
                })?;
        }
        Ok(Templates { env })
    }

    pub fn render(&self, kind: Kind, context: &impl Serialize) -> Result<Rendered, TemplateError> {
        let ctx = minijinja::Value::from(minijinja::value::Serde(context));
        let render = |suffix: &str| {
            let name = format!("{}.{suffix}", kind.stem());
            self.env
                .get_template(&name)
                .and_then(|t| t.render(&ctx))
                .map_err(|source| TemplateError::Render { name, source })
        };
        // A header is one line: whatever a template spreads over several is joined.
        let subject = render("subject.txt")?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Rendered {
            subject,
            text: render("txt")?,
            html: render("html")?,
        })
    }
}
