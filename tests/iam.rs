//! The IAM policies shipped in `iam/` list exactly what the code calls:
//! every AWS SDK call in `src/` carries its IAM action as a label (the
//! `error("ecs:DescribeServices", …)` its failure is reported with), the
//! label matches the operation called, and the operator policy grants every
//! label, the read-only policy every read and no write. Fails when a call is
//! added without its action in the policies, or a policy grants what the
//! code never calls.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

type Error = Box<dyn std::error::Error>;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every `Action` of a policy document.
fn actions(file: &str) -> Result<BTreeSet<String>, Error> {
    let text = std::fs::read_to_string(root().join("iam").join(file))?;
    let policy: serde_json::Value = serde_json::from_str(&text)?;
    let mut found = BTreeSet::new();
    for statement in policy["Statement"].as_array().ok_or("no Statement list")? {
        assert_eq!(statement["Effect"], "Allow", "{file}: {statement}");
        for action in statement["Action"]
            .as_array()
            .ok_or("an Action is not a list")?
        {
            found.insert(
                action
                    .as_str()
                    .ok_or("an action is not a string")?
                    .to_string(),
            );
        }
    }
    Ok(found)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

fn pascal(snake: &str) -> String {
    snake
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// One AWS call: where, the operation (when its chain names it) and the
/// IAM action it is labelled with.
#[derive(Debug)]
struct Call {
    at: String,
    operation: Option<String>,
    label: String,
}

/// Every `.send()` of a file that uses the AWS SDK, with the operation of
/// its chain (`.describe_services()` a few lines up, or on the line) and
/// the first `"service:Action"` label in the lines after it.
fn calls() -> Result<Vec<Call>, Error> {
    let label = regex::Regex::new(
        r#""(sts|ecs|elasticloadbalancing|cloudwatch|logs|dynamodb|iam):([A-Za-z]+)""#,
    )?;
    let operation = regex::Regex::new(r"\.([a-z][a-z0-9_]*)\(\)\s*(\.send\(\))?\s*$")?;
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files)?;
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)?;
        if !text.contains("aws_sdk_") {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(send) = line.find(".send()") else {
                continue;
            };
            let at = format!("{}:{}", file.display(), i + 1);
            // The chain: this line (up to .send()) and the lines above that
            // continue it (rustfmt puts one method per line).
            let mut op = operation
                .captures(&line[..send + ".send()".len()])
                .filter(|c| c.get(2).is_some())
                .map(|c| c[1].to_string());
            let op_of_line = op.clone();
            // Else the topmost `.name()` of the chain above: the client's
            // operation comes first, the builder's setters after it.
            let mut j = i;
            while op_of_line.is_none() && j > 0 && lines[j].trim_start().starts_with('.') {
                j -= 1;
                if let Some(c) = operation.captures(lines[j].trim())
                    && lines[j].trim_start().starts_with('.')
                {
                    op = Some(c[1].to_string());
                }
            }
            let label = lines[i..(i + 16).min(lines.len())]
                .iter()
                .find_map(|l| label.captures(l).map(|c| format!("{}:{}", &c[1], &c[2])))
                .ok_or_else(|| {
                    format!(
                        "{at}: an AWS call without an IAM action label in the 16 lines after it"
                    )
                })?;
            found.push(Call {
                at,
                operation: op,
                label,
            });
        }
    }
    Ok(found)
}

fn is_read(action: &str) -> bool {
    let name = action.split(':').nth(1).unwrap_or_default();
    [
        "Describe",
        "List",
        "Get",
        "Query",
        "Scan",
        "Filter",
        "StartLiveTail",
    ]
    .iter()
    .any(|p| name.starts_with(p))
        || action == "sts:AssumeRole"
}

#[test]
fn the_policies_grant_exactly_the_calls_the_code_makes() -> Result<(), Error> {
    let operator = actions("flightdeck-operator.json")?;
    let readonly = actions("flightdeck-readonly.json")?;
    let calls = calls()?;
    // The scan sees the adapters: a broken scan must not pass empty.
    assert!(
        calls.len() >= 20,
        "only {} AWS calls found: {calls:?}",
        calls.len()
    );
    let named = calls.iter().filter(|c| c.operation.is_some()).count();
    assert!(
        named * 10 >= calls.len() * 9,
        "the operation of only {named} of {} calls was read: {calls:?}",
        calls.len()
    );
    let mut called: BTreeSet<String> = BTreeSet::new();
    for call in &calls {
        if let Some(op) = &call.operation {
            let action = call.label.split(':').nth(1).unwrap_or_default();
            assert_eq!(
                pascal(op),
                action,
                "{}: `{op}` is labelled {}",
                call.at,
                call.label
            );
        }
        assert!(
            operator.contains(&call.label),
            "{}: {} is not in iam/flightdeck-operator.json",
            call.at,
            call.label
        );
        if is_read(&call.label) {
            assert!(
                readonly.contains(&call.label),
                "{}: the read {} is not in iam/flightdeck-readonly.json",
                call.at,
                call.label
            );
        }
        called.insert(call.label.clone());
    }
    // Made by the SDK's credential provider, not by a `.send()` of ours.
    let mut sources = Vec::new();
    rust_files(&root().join("src"), &mut sources)?;
    let assumes = sources.iter().try_fold(false, |seen, f| {
        std::fs::read_to_string(f).map(|t| seen || t.contains("AssumeRoleProvider"))
    })?;
    if assumes {
        assert!(operator.contains("sts:AssumeRole") && readonly.contains("sts:AssumeRole"));
        called.insert("sts:AssumeRole".into());
    }
    // Nothing granted that the code never calls; no write in read-only.
    let extra: Vec<&String> = operator.difference(&called).collect();
    assert!(extra.is_empty(), "granted but never called: {extra:?}");
    // The one write read-only grants: its journal records (verdicts,
    // baselines) into the team table; never AWS itself.
    let writes: Vec<&String> = readonly
        .iter()
        .filter(|a| !is_read(a) && a.as_str() != "dynamodb:PutItem")
        .collect();
    assert!(writes.is_empty(), "read-only grants writes: {writes:?}");
    assert!(readonly.is_subset(&operator));
    Ok(())
}

#[test]
fn the_readme_links_the_policies() -> Result<(), Error> {
    let readme = std::fs::read_to_string(root().join("README.md"))?;
    for file in [
        "iam/flightdeck-readonly.json",
        "iam/flightdeck-operator.json",
    ] {
        assert!(readme.contains(file), "README.md does not link {file}");
    }
    Ok(())
}
