//! Site Engine's own GraphQL schema (`GET /nbi/graphql/schema.idl`, spec 2.1): which of the
//! pack's operations this server supports. NBI fields drift between releases, so a configure
//! step checks the schema once and reports operations the server lacks instead of letting a
//! workflow discover it mid-remediation.
//!
//! The parser reads only what the check needs from SDL: object types, their fields and the
//! fields' named types (arguments, directives, interfaces and descriptions are skipped).

use std::collections::{BTreeMap, HashMap};

/// Object types and their fields of a GraphQL SDL document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NbiSchema {
    /// type name → field name → the field's named type (list and non-null wrappers removed).
    pub types: HashMap<String, BTreeMap<String, String>>,
    pub query: String,
    pub mutation: String,
}

/// Removes `# comments` and `"""block"""` / `"string"` descriptions.
fn strip(idl: &str) -> String {
    let mut out = String::with_capacity(idl.len());
    let mut rest = idl;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("\"\"\"") {
            rest = r.split_once("\"\"\"").map(|(_, r)| r).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('"') {
            rest = r.split_once('"').map(|(_, r)| r).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('#') {
            rest = r.split_once('\n').map(|(_, r)| r).unwrap_or("");
            out.push('\n');
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Drops balanced `( ... )` groups (field arguments).
fn drop_parens(s: &str) -> String {
    let mut depth = 0usize;
    s.chars()
        .filter(|&c| {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    return false;
                }
                _ => {}
            }
            depth == 0
        })
        .collect()
}

impl NbiSchema {
    pub fn parse(idl: &str) -> NbiSchema {
        let text = drop_parens(&strip(idl));
        let mut schema = NbiSchema {
            query: "Query".into(),
            mutation: "Mutation".into(),
            ..Default::default()
        };
        let (Ok(block), Ok(field), Ok(root)) = (
            regex::Regex::new(r"(?s)\b(?:extend\s+)?(type|schema)\s*(\w*)[^{]*\{([^}]*)\}"),
            regex::Regex::new(r"(\w+)\s*:\s*[\[\s]*(\w+)"),
            regex::Regex::new(r"(query|mutation)\s*:\s*(\w+)"),
        ) else {
            return schema;
        };
        for b in block.captures_iter(&text) {
            let body = &b[3];
            if &b[1] == "schema" {
                for r in root.captures_iter(body) {
                    match &r[1] {
                        "query" => schema.query = r[2].to_string(),
                        _ => schema.mutation = r[2].to_string(),
                    }
                }
                continue;
            }
            let fields = schema.types.entry(b[2].to_string()).or_default();
            for f in field.captures_iter(body) {
                fields.insert(f[1].to_string(), f[2].to_string());
            }
        }
        schema
    }

    /// Whether `path` (e.g. `["network", "device"]`) resolves from the query (`mutation`
    /// false) or mutation root.
    pub fn has(&self, mutation: bool, path: &[&str]) -> bool {
        let mut ty = if mutation {
            &self.mutation
        } else {
            &self.query
        };
        for name in path {
            match self.types.get(ty).and_then(|fields| fields.get(*name)) {
                Some(next) => ty = next,
                None => return false,
            }
        }
        true
    }
}

/// The root path each pack operation needs (`graphql` needs nothing in particular).
pub fn operation_path(operation: &str) -> Option<(bool, &'static [&'static str])> {
    let p: (bool, &'static [&'static str]) = match operation {
        "server_info" => (false, &["administration", "serverInfo"]),
        "list_devices" => (false, &["network", "devices"]),
        "get_device" => (false, &["network", "device"]),
        "get_ports" => (false, &["network", "deviceVlans"]),
        "rediscover_device" => (true, &["network", "rediscoverDevices"]),
        "create_device" => (true, &["network", "createDevices"]),
        "delete_device" => (true, &["network", "deleteDevices"]),
        "update_device" | "enforce_device" => (true, &["network", "configureDevice"]),
        "run_workflow" => (true, &["workflows", "startWorkflow"]),
        "preregister_device" => (true, &["network", "preRegisterDevices"]),
        "quarantine_mac" => (true, &["accessControl", "addMACToEndSystemGroup"]),
        "release_mac" => (true, &["accessControl", "removeMACFromEndSystemGroup"]),
        "reauthenticate_mac" => (true, &["accessControl", "reauthenticate"]),
        _ => return None,
    };
    Some(p)
}

/// Pack operations the server's schema lacks, with the missing path (`network.device`).
pub fn unsupported_operations(schema: &NbiSchema) -> Vec<(&'static str, String)> {
    crate::runner::OPERATIONS
        .iter()
        .filter_map(|op| {
            let (mutation, path) = operation_path(op)?;
            (!schema.has(mutation, path)).then(|| {
                let root = if mutation { "mutation" } else { "query" };
                (*op, format!("{root} {}", path.join(".")))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDL: &str = r#"
        schema { query: Query mutation: Mutation }
        """The root."""
        type Query {
          # servers
          administration: Administration
          network: Network
        }
        type Mutation { network: NetworkMutation }
        type Administration { serverInfo: ServerInfo }
        type Network {
          devices: [Device!]!
          device(ip: String!, filter: DeviceFilter = {up: true}): Device
          "per device"
          deviceVlans(ip: String!): [Vlan]
        }
        type NetworkMutation { rediscoverDevices(input: RediscoverInput!): MutationResult }
        type Device { ip: String up: Boolean }
    "#;

    #[test]
    fn parses_types_fields_and_roots() {
        let s = NbiSchema::parse(IDL);
        assert!(s.has(false, &["network", "device", "ip"]));
        assert!(s.has(false, &["administration", "serverInfo"]));
        assert!(s.has(true, &["network", "rediscoverDevices"]));
        assert!(!s.has(true, &["network", "createDevices"]));
        assert!(!s.has(false, &["workflows"]));
        assert_eq!(s.types["Network"]["devices"], "Device");
    }

    #[test]
    fn lists_what_the_server_lacks() {
        let missing = unsupported_operations(&NbiSchema::parse(IDL));
        let ops: Vec<&str> = missing.iter().map(|(op, _)| *op).collect();
        assert!(!ops.contains(&"get_device"));
        assert!(!ops.contains(&"rediscover_device"));
        assert!(ops.contains(&"run_workflow"));
        assert!(missing.contains(&("create_device", "mutation network.createDevices".into())));
        // Every runner operation but graphql has a path.
        for op in crate::runner::OPERATIONS {
            assert_eq!(operation_path(op).is_none(), *op == "graphql", "{op}");
        }
    }
}
