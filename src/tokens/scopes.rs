//! Scopes: the grammar (`action` or `action:resource`, `read` < `write` < `admin`), the catalog
//! of resources and named presets from configuration, role caps, and coverage checks.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::directory::Role;

/// What a scope lets a token do; each action implies the lower ones on the same resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Look.
    Read,
    /// Change.
    Write,
    /// Administer.
    Admin,
}

impl Action {
    /// Wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// The most a role may do: viewer → read, member → write, admin/owner → admin.
    #[must_use]
    pub fn cap_of(role: Role) -> Self {
        match role {
            Role::Viewer => Self::Read,
            Role::Member => Self::Write,
            Role::Admin | Role::Owner => Self::Admin,
        }
    }
}

/// One parsed scope. A bare action (`resource: None`) covers every resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The action.
    pub action: Action,
    /// The resource, or every resource.
    pub resource: Option<String>,
}

impl Scope {
    /// Parses `action` or `action:resource` (grammar only; the catalog is checked separately).
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (action, resource) = match text.split_once(':') {
            Some((action, resource)) => (action, Some(resource)),
            None => (text, None),
        };
        let action = Action::from_name(action)?;
        match resource {
            None => Some(Self {
                action,
                resource: None,
            }),
            Some(r) if valid_resource_name(r) => Some(Self {
                action,
                resource: Some(r.to_owned()),
            }),
            Some(_) => None,
        }
    }

    /// Whether holding `self` grants `other`.
    #[must_use]
    pub fn covers(&self, other: &Scope) -> bool {
        self.action >= other.action && (self.resource.is_none() || self.resource == other.resource)
    }

    /// This scope with its action lowered to at most `cap`.
    #[must_use]
    pub fn capped(&self, cap: Action) -> Self {
        Self {
            action: self.action.min(cap),
            resource: self.resource.clone(),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            Some(resource) => write!(f, "{}:{resource}", self.action.as_str()),
            None => f.write_str(self.action.as_str()),
        }
    }
}

fn valid_resource_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

/// A resource scopes may name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// Resource name used in scopes (`read:projects`).
    #[schema(example = "projects")]
    pub name: String,
    /// What it covers.
    #[schema(example = "Projects and their settings")]
    pub description: String,
}

/// A named bundle of scopes offered by the console's create form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// Stable id used in `POST /v1/tokens` (`preset`).
    #[schema(example = "read-only")]
    pub id: String,
    /// The preset's display name, as the console's create form shows it.
    #[schema(example = "Read-only")]
    pub name: String,
    /// The scopes it grants.
    #[schema(example = json!(["read"]))]
    pub scopes: Vec<String>,
}

/// The resources and presets of this deployment (configuration: `TOKEND_SCOPE_CATALOG`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Resources scopes may name.
    pub resources: Vec<Resource>,
    /// Named bundles.
    #[serde(default)]
    pub presets: Vec<Preset>,
}

impl Default for Catalog {
    fn default() -> Self {
        let resource = |name: &str, description: &str| Resource {
            name: name.into(),
            description: description.into(),
        };
        let preset = |id: &str, name: &str, scopes: &[&str]| Preset {
            id: id.into(),
            name: name.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        };
        Self {
            resources: vec![
                resource("projects", "Projects and their settings"),
                resource("deployments", "Deployments and releases"),
                resource("environments", "Environments and their variables"),
                resource("members", "Organization members and invitations"),
                resource("billing", "Invoices, plans and payment methods"),
                resource("audit", "Audit logs"),
            ],
            presets: vec![
                preset("read-only", "Read-only", &["read"]),
                preset(
                    "reporting",
                    "Reporting",
                    &["read:projects", "read:billing", "read:audit"],
                ),
                preset(
                    "ide-plugins",
                    "IDE plugins",
                    &["read:projects", "write:deployments", "read:environments"],
                ),
            ],
        }
    }
}

/// One catalog entry as `GET /v1/scopes` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScopeEntry {
    /// The scope as a token is given it: `action` or `action:resource`.
    #[schema(example = "read:projects")]
    pub name: String,
    /// What it allows.
    #[schema(example = "Read projects and their settings")]
    pub description: String,
}

impl Catalog {
    /// Checks resource names, preset ids and preset scopes.
    pub fn validate(&self) -> Result<(), String> {
        for resource in &self.resources {
            if !valid_resource_name(&resource.name) {
                return Err(format!(
                    "resource {:?}: use 1-64 of a-z 0-9 _ - .",
                    resource.name
                ));
            }
        }
        let mut ids: Vec<&str> = self.presets.iter().map(|p| p.id.as_str()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err("preset ids must be unique".into());
        }
        for preset in &self.presets {
            if preset.scopes.is_empty() {
                return Err(format!("preset {:?} has no scopes", preset.id));
            }
            if let Some(bad) = preset.scopes.iter().find(|s| self.known(s).is_none()) {
                return Err(format!("preset {:?}: unknown scope {bad:?}", preset.id));
            }
        }
        Ok(())
    }

    /// The scope, if it is well-formed and names a catalog resource.
    #[must_use]
    pub fn known(&self, text: &str) -> Option<Scope> {
        let scope = Scope::parse(text)?;
        match &scope.resource {
            Some(r) if !self.resources.iter().any(|known| &known.name == r) => None,
            _ => Some(scope),
        }
    }

    /// A preset by id.
    #[must_use]
    pub fn preset(&self, id: &str) -> Option<&Preset> {
        self.presets.iter().find(|p| p.id == id)
    }

    /// Every scope the catalog accepts, bare actions first.
    #[must_use]
    pub fn entries(&self) -> Vec<ScopeEntry> {
        let actions = [Action::Read, Action::Write, Action::Admin];
        let verb = |a: Action| match a {
            Action::Read => "Read",
            Action::Write => "Read and change",
            Action::Admin => "Administer",
        };
        let mut entries: Vec<ScopeEntry> = actions
            .iter()
            .map(|a| ScopeEntry {
                name: a.as_str().into(),
                description: format!("{} every resource", verb(*a)),
            })
            .collect();
        for resource in &self.resources {
            for a in actions {
                entries.push(ScopeEntry {
                    name: format!("{}:{}", a.as_str(), resource.name),
                    description: format!("{} {}", verb(a), lowercase_first(&resource.description)),
                });
            }
        }
        entries
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_lowercase().chain(chars).collect())
}

/// Scopes sorted and without duplicates (the stored and returned form).
#[must_use]
pub fn normalized(scopes: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut scopes: Vec<String> = scopes.into_iter().collect();
    scopes.sort_unstable();
    scopes.dedup();
    scopes
}

/// The scopes a token may use now: each capped by `cap` (the owner's current role), or as
/// stored when `cap` is `None` (organization tokens).
#[must_use]
pub fn effective(stored: &[String], cap: Option<Action>) -> Vec<String> {
    normalized(stored.iter().filter_map(|text| {
        let scope = Scope::parse(text)?;
        Some(match cap {
            Some(cap) => scope.capped(cap).to_string(),
            None => scope.to_string(),
        })
    }))
}

/// The required scopes that `granted` does not cover (unparseable ones are never covered).
#[must_use]
pub fn missing(granted: &[String], required: &[String]) -> Vec<String> {
    let granted: Vec<Scope> = granted.iter().filter_map(|s| Scope::parse(s)).collect();
    required
        .iter()
        .filter(|req| Scope::parse(req).is_none_or(|req| !granted.iter().any(|g| g.covers(&req))))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn grammar_accepts_actions_and_action_resource_pairs() {
        assert!(Scope::parse("read").is_some());
        assert!(Scope::parse("admin:projects").is_some());
        for bad in [
            "",
            "delete",
            "read:",
            "read:Projects",
            "read:a:b",
            "READ",
            " read",
        ] {
            assert!(Scope::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn catalog_rejects_unknown_resources() {
        let catalog = Catalog::default();
        assert!(catalog.known("write:projects").is_some());
        assert!(catalog.known("write").is_some());
        assert!(catalog.known("write:spaceships").is_none());
        assert!(catalog.validate().is_ok());
        assert!(catalog.entries().iter().any(|e| e.name == "admin:billing"));
    }

    #[test]
    fn higher_actions_and_bare_actions_cover_lower_ones() {
        let granted = strings(&["admin:projects", "read"]);
        assert!(
            missing(
                &granted,
                &strings(&["write:projects", "read:billing", "read"])
            )
            .is_empty()
        );
        assert_eq!(
            missing(&granted, &strings(&["write:billing", "nonsense"])),
            strings(&["write:billing", "nonsense"])
        );
        assert_eq!(
            missing(&strings(&["write"]), &strings(&["admin"])),
            strings(&["admin"])
        );
    }

    #[test]
    fn role_caps_lower_actions() {
        let stored = strings(&["admin:projects", "write", "read:billing"]);
        assert_eq!(
            effective(&stored, Some(Action::cap_of(Role::Member))),
            strings(&["read:billing", "write", "write:projects"])
        );
        assert_eq!(
            effective(&stored, Some(Action::cap_of(Role::Viewer))),
            strings(&["read", "read:billing", "read:projects"])
        );
        assert_eq!(
            effective(&stored, Some(Action::cap_of(Role::Owner))),
            normalized(stored.clone())
        );
        assert_eq!(effective(&stored, None), normalized(stored));
    }

    #[test]
    fn catalog_validation_catches_bad_presets() {
        let mut catalog = Catalog::default();
        catalog.presets[0].scopes = strings(&["read:nowhere"]);
        assert!(catalog.validate().is_err());
        let mut catalog = Catalog::default();
        catalog.presets.push(catalog.presets[0].clone());
        assert!(catalog.validate().is_err());
    }
}
