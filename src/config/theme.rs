//! Themes: semantic roles (healthy, degraded, failing, stale, focus, danger,
//! ...) mapped to colours and modifiers. The built-in themes are the files in
//! `themes/`, compiled in; `NO_COLOR` forces the monochrome one.

use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// The built-in themes, by name, as TOML text.
pub const BUILT_IN: [(&str, &str); 4] = [
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
];

/// What a colour means on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Text,
    Muted,
    Border,
    Focus,
    Title,
    Healthy,
    Degraded,
    Failing,
    Stale,
    Danger,
    Stable,
    Canary,
    Header,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    fg: Option<ColorName>,
    bg: Option<ColorName>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    reversed: bool,
    #[serde(default)]
    underlined: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ColorName(Color);

impl<'de> Deserialize<'de> for ColorName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Color::from_str(&text).map(ColorName).map_err(|_| {
            serde::de::Error::custom(format!(
                "`{text}` is not a colour: expected a name (red, light-blue, gray, reset), #rrggbb, or 0-255"
            ))
        })
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    text: RoleSpec,
    muted: RoleSpec,
    border: RoleSpec,
    focus: RoleSpec,
    title: RoleSpec,
    healthy: RoleSpec,
    degraded: RoleSpec,
    failing: RoleSpec,
    stale: RoleSpec,
    danger: RoleSpec,
    stable: RoleSpec,
    canary: RoleSpec,
    header: RoleSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    file: ThemeFile,
}

impl Theme {
    /// Parse a theme file's text.
    pub fn parse(text: &str) -> Result<Theme, String> {
        toml::from_str(text)
            .map(|file| Theme { file })
            .map_err(|e| e.to_string())
    }

    /// A built-in theme by name.
    pub fn built_in(name: &str) -> Option<Theme> {
        BUILT_IN
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, text)| Theme::parse(text).ok())
    }

    pub fn names() -> Vec<String> {
        BUILT_IN.iter().map(|(n, _)| (*n).to_string()).collect()
    }

    pub fn name(&self) -> &str {
        &self.file.name
    }

    pub fn style(&self, role: Role) -> Style {
        let f = &self.file;
        let spec = match role {
            Role::Text => f.text,
            Role::Muted => f.muted,
            Role::Border => f.border,
            Role::Focus => f.focus,
            Role::Title => f.title,
            Role::Healthy => f.healthy,
            Role::Degraded => f.degraded,
            Role::Failing => f.failing,
            Role::Stale => f.stale,
            Role::Danger => f.danger,
            Role::Stable => f.stable,
            Role::Canary => f.canary,
            Role::Header => f.header,
        };
        let mut style = Style::default();
        if let Some(fg) = spec.fg {
            style = style.fg(fg.0);
        }
        if let Some(bg) = spec.bg {
            style = style.bg(bg.0);
        }
        let mut modifier = Modifier::empty();
        if spec.bold {
            modifier |= Modifier::BOLD;
        }
        if spec.reversed {
            modifier |= Modifier::REVERSED;
        }
        if spec.underlined {
            modifier |= Modifier::UNDERLINED;
        }
        style.add_modifier(modifier)
    }
}

/// All built-in themes, parsed once at start.
#[derive(Debug, Clone)]
pub struct Themes {
    themes: Vec<Theme>,
    /// NO_COLOR is set: every lookup gives monochrome.
    pub no_color: bool,
    /// Plain terminal colours, if no built-in theme parsed (a test makes
    /// sure they all do).
    fallback: Theme,
}

impl Themes {
    pub fn load(no_color: bool) -> Themes {
        Themes {
            themes: BUILT_IN
                .iter()
                .filter_map(|(_, text)| Theme::parse(text).ok())
                .collect(),
            no_color,
            fallback: Theme {
                file: ThemeFile {
                    name: "plain".into(),
                    ..ThemeFile::default()
                },
            },
        }
    }

    /// The theme to draw with; unknown names fall back to default.
    pub fn get(&self, name: &str) -> &Theme {
        let name = if self.no_color { "monochrome" } else { name };
        self.themes
            .iter()
            .find(|t| t.name() == name)
            .or_else(|| self.themes.first())
            .unwrap_or(&self.fallback)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_theme_parses_and_is_named_after_its_file() {
        for (name, text) in BUILT_IN {
            let theme = Theme::parse(text);
            assert!(
                theme.as_ref().is_ok_and(|t| t.name() == name),
                "{name}: {theme:?}"
            );
        }
    }

    #[test]
    fn no_color_gives_monochrome() {
        let themes = Themes::load(true);
        assert_eq!(themes.get("default").name(), "monochrome");
        let failing = themes.get("default").style(Role::Failing);
        assert_eq!(failing.fg, None);
        assert!(failing.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn bad_colour_is_named() {
        let text = BUILT_IN[0].1.replace("fg = \"green\"", "fg = \"grean\"");
        let err = Theme::parse(&text).err().unwrap_or_default();
        assert!(err.contains("`grean` is not a colour"), "{err}");
    }
}
