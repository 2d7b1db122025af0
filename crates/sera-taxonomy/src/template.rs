//! Prompt templates: text with exactly two variables, `{{function}}` and `{{file}}`.
//!
//! The syntax is deliberately tiny (no escapes, conditionals or filters) so that a template
//! written by a plugin author can be checked completely when it is registered.

use std::fmt;

use serde::{Serialize, Serializer};

/// One of the two variables a prompt template uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variable {
    /// The start function's name.
    Function,
    /// The repository-relative path of the start function's file.
    File,
}

impl Variable {
    pub const ALL: [Variable; 2] = [Variable::Function, Variable::File];

    /// The name as written between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Variable::Function => "function",
            Variable::File => "file",
        }
    }

    fn from_name(name: &str) -> Option<Variable> {
        Variable::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl fmt::Display for Variable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{{}}}}}", self.name())
    }
}

/// Why a template could not be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    #[error(
        "unknown template variable `{{{{{name}}}}}` at byte {offset}; the variables are `{{{{function}}}}` and `{{{{file}}}}`"
    )]
    UnknownVariable { name: String, offset: usize },
    #[error("unclosed `{{{{` at byte {offset}")]
    Unclosed { offset: usize },
    #[error("the template never uses `{0}`")]
    MissingVariable(Variable),
    #[error("no value given for template variable `{0}`")]
    MissingValue(Variable),
}

/// A checked template: it uses both variables, at least once each, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    text: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Variable),
}

impl Template {
    /// Checks `text`: every `{{name}}` must be one of the two variables, and both must occur.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(TemplateError::Unclosed { offset: offset + open });
            };
            let name = after[..close].trim();
            let Some(var) = Variable::from_name(name) else {
                return Err(TemplateError::UnknownVariable {
                    name: name.to_string(),
                    offset: offset + open,
                });
            };
            parts.push(Part::Var(var));
            let consumed = open + 2 + close + 2;
            offset += consumed;
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        for var in Variable::ALL {
            if !parts.contains(&Part::Var(var)) {
                return Err(TemplateError::MissingVariable(var));
            }
        }
        Ok(Template { text: text.to_string(), parts })
    }

    /// The template's source text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The prompt for a start function `function` defined in `file`. An empty value is an
    /// error, since a prompt that names no function or no file sends the teacher nowhere.
    pub fn render(&self, function: &str, file: &str) -> Result<String, TemplateError> {
        self.render_values(&[("function", function), ("file", file)])
    }

    /// Renders from named values, as a config file or plugin supplies them. A name that is not
    /// a variable is [`TemplateError::UnknownVariable`]; a variable without a non-empty value is
    /// [`TemplateError::MissingValue`].
    pub fn render_values(&self, values: &[(&str, &str)]) -> Result<String, TemplateError> {
        if let Some((name, _)) = values.iter().find(|(name, _)| Variable::from_name(name).is_none())
        {
            return Err(TemplateError::UnknownVariable { name: name.to_string(), offset: 0 });
        }
        let value = |var: Variable| {
            values
                .iter()
                .rev()
                .find(|(name, value)| *name == var.name() && !value.is_empty())
                .map(|(_, value)| *value)
                .ok_or(TemplateError::MissingValue(var))
        };
        let function = value(Variable::Function)?;
        let file = value(Variable::File)?;
        let mut out = String::with_capacity(self.text.len() + 8 * (function.len() + file.len()));
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(Variable::Function) => out.push_str(function),
                Part::Var(Variable::File) => out.push_str(file),
            }
        }
        Ok(out)
    }
}

impl Serialize for Template {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_err(text: &str, expected: &str) {
        assert_eq!(Template::parse(text).unwrap_err().to_string(), expected);
    }

    #[test]
    fn renders_both_variables_every_time_they_occur() {
        let t =
            Template::parse("Fix {{function}} in {{ file }}; {{function}} misbehaves.").unwrap();
        assert_eq!(t.render("f", "a.rs").unwrap(), "Fix f in a.rs; f misbehaves.");
    }

    #[test]
    fn parse_errors_name_the_problem() {
        check_err(
            "{{function}} {{file}} {{fn}}",
            "unknown template variable `{{fn}}` at byte 22; the variables are `{{function}}` and `{{file}}`",
        );
        check_err("{{function}} {{file", "unclosed `{{` at byte 13");
        check_err("{{file}} only", "the template never uses `{{function}}`");
        check_err("plain text", "the template never uses `{{function}}`");
    }

    #[test]
    fn render_errors_on_missing_or_unknown_values() {
        let t = Template::parse("{{function}} {{file}}").unwrap();
        let err = t.render("f", "").unwrap_err().to_string();
        assert_eq!(err, "no value given for template variable `{{file}}`");
        let err = t.render_values(&[("function", "f")]).unwrap_err();
        assert_eq!(err, TemplateError::MissingValue(Variable::File));
        let err = t.render_values(&[("function", "f"), ("file", "x"), ("line", "3")]).unwrap_err();
        assert!(matches!(err, TemplateError::UnknownVariable { ref name, .. } if name == "line"));
    }
}
