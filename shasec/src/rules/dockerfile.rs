//! Dockerfiles: user, base image pinning, remote ADD, baked-in secrets, health checks.

use crate::finding::Severity;
use crate::rules::Rule;

pub static RUNS_AS_ROOT: Rule = Rule {
    id: "SHA020",
    name: "dockerfile-runs-as-root",
    severity: Severity::High,
    title: "Final image runs as root",
    summary: "The final stage of the Dockerfile has no `USER` instruction, or its last `USER` is root \
              (`root`, `0`, `0:0`). Stages before the last are not judged: only the final stage \
              becomes the running container. A final stage based on a distroless `:nonroot` image is \
              accepted.",
    remediation: "Create an unprivileged user in the final stage and switch to it \
                  (`RUN useradd --system --uid 10001 app` then `USER app`), or use a `:nonroot` base image.",
    references: &["CWE-250", "hadolint DL3002", "Trivy DS002"],
};

pub static UNPINNED_BASE: Rule = Rule {
    id: "SHA021",
    name: "dockerfile-unpinned-base",
    severity: Severity::Medium,
    title: "Base image is `latest` or untagged",
    summary: "A `FROM` names an image without a tag or with `:latest` (and without a `@sha256:` \
              digest), so builds are not reproducible and can silently pick up a different, possibly \
              compromised image. References to an earlier stage and `scratch` are not reported; an \
              image given through a build argument is judged by the argument's default.",
    remediation: "Pin a version tag (`rust:1.95-slim-bookworm`) and, for releases, a digest \
                  (`@sha256:…`).",
    references: &[
        "CWE-1357",
        "hadolint DL3006",
        "hadolint DL3007",
        "Trivy DS001",
    ],
};

pub static ADD_FROM_URL: Rule = Rule {
    id: "SHA022",
    name: "dockerfile-add-from-url",
    severity: Severity::Medium,
    title: "`ADD` downloads from a URL",
    summary: "`ADD https://…` fetches a remote file at build time without verifying it (unless \
              `--checksum` is given), so the image contains whatever the server returned that day.",
    remediation: "Download with `curl`/`wget` in a `RUN` step and verify a checksum, or use \
                  `ADD --checksum=sha256:…`; use `COPY` for local files.",
    references: &["CWE-494", "Trivy DS005"],
};

pub static SECRET_IN_IMAGE: Rule = Rule {
    id: "SHA023",
    name: "dockerfile-secret-in-image",
    severity: Severity::Critical,
    title: "Secret baked into the image by `ENV` or `ARG`",
    summary: "An `ENV` or `ARG` with a secret-like name (SECRET, PASSWORD, TOKEN, API_KEY, PRIVATE_KEY …) \
              is given a value in the Dockerfile. `ENV` values are stored in the image configuration \
              and `ARG` values in its history: anyone who can pull the image can read them. An `ARG` \
              declared without a default is not reported here, though a value passed with \
              `--build-arg` is still recorded in the image history: prefer secret mounts.",
    remediation: "Pass secrets at run time (environment, mounted files, orchestrator secrets) or, when \
                  a build step needs one, with `RUN --mount=type=secret,id=…`.",
    references: &[
        "CWE-538",
        "CWE-798",
        "Docker build check SecretsUsedInArgOrEnv",
    ],
};

pub static NO_HEALTHCHECK: Rule = Rule {
    id: "SHA024",
    name: "dockerfile-no-healthcheck",
    severity: Severity::Low,
    title: "Final image has no HEALTHCHECK",
    summary: "The final stage declares no `HEALTHCHECK` (or only `HEALTHCHECK NONE`), so Docker and \
              compose cannot tell a hung service from a healthy one, and `depends_on: condition: \
              service_healthy` cannot wait for it. Not reported when a compose file in the project \
              gives the service built from this Dockerfile a `healthcheck`.",
    remediation: "Add `HEALTHCHECK CMD [\"/app/your-binary\", \"healthcheck\"]` (or a `curl -f` of the \
                  health endpoint when the image has curl), or declare `healthcheck:` in compose.",
    references: &["CWE-1188", "hadolint DL3057", "Trivy DS026"],
};

// ---------------------------------------------------------------------------------------------
// Checks

use std::collections::HashMap;

use crate::audit::{Parsed, Project, SourceFile};
use crate::finding::{Finding, Location};
use crate::parse::dockerfile::{self as parse, Dockerfile, Stage};
use crate::rules::secrets::{is_reference, is_secret_name};

pub fn check(_project: &Project, parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    for (file, dockerfile) in &parsed.dockerfiles {
        check_file(
            file,
            dockerfile,
            healthcheck_in_compose(parsed, &file.path),
            findings,
        );
    }
}

/// A compose service built from this Dockerfile declares its own `healthcheck`.
fn healthcheck_in_compose(parsed: &Parsed<'_>, dockerfile_path: &str) -> bool {
    parsed.compose.iter().any(|document| {
        let compose_dir = document
            .file
            .path
            .rsplit_once('/')
            .map_or("", |(dir, _)| dir);
        document.compose.services.iter().any(|service| {
            service.healthcheck
                && service.build.as_ref().is_some_and(|build| {
                    let context = join(compose_dir, &build.context);
                    let dockerfile = build.dockerfile.as_deref().unwrap_or("Dockerfile");
                    join(&context, dockerfile) == dockerfile_path
                })
        })
    })
}

/// Joins and normalises relative paths (`./`, `..`), `/`-separated.
fn join(base: &str, relative: &str) -> String {
    let mut parts: Vec<&str> = if relative.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|p| !p.is_empty()).collect()
    };
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

fn is_root_user(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or(user).trim();
    name == "root" || name == "0"
}

/// Images known to run as an unprivileged user by default.
/// Images whose own configuration sets a non-root USER (the Elastic stack's, curl's, Bitnami's,
/// Grafana's), so a Dockerfile built on them runs unprivileged without a USER of its own.
const NONROOT_IMAGES: &[&str] = &[
    "docker.elastic.co/",
    "curlimages/curl",
    "bitnami/",
    "grafana/grafana",
];

fn nonroot_base(image: &str) -> bool {
    image.ends_with(":nonroot")
        || image.contains(":nonroot-")
        || image.contains("-nonroot")
        || image.starts_with("cgr.dev/chainguard/")
        || NONROOT_IMAGES
            .iter()
            .any(|known| image.trim_start_matches("docker.io/").starts_with(known))
}

fn is_development_image(path: &str) -> bool {
    let file_name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    file_name.split(['.', '-', '_']).any(|part| {
        matches!(
            part,
            "debug" | "dev" | "development" | "test" | "playwright" | "e2e"
        )
    }) || path
        .split('/')
        .rev()
        .skip(1)
        .any(|dir| matches!(dir, ".devcontainer" | "local" | "dev" | "development"))
}

/// Follows `FROM <earlier stage>` links so inherited USER/HEALTHCHECK count.
fn stage_chain<'s, 'a>(stages: &'s [Stage<'a>], index: usize) -> Vec<&'s Stage<'a>> {
    let mut chain = vec![&stages[index]];
    let mut current = index;
    while chain.len() <= stages.len() {
        let image = &stages[current].image;
        let Some(parent) = stages[..current].iter().rposition(|s| {
            s.alias
                .as_deref()
                .is_some_and(|alias| alias.eq_ignore_ascii_case(image))
        }) else {
            break;
        };
        chain.push(&stages[parent]);
        current = parent;
    }
    chain
}

fn check_file(
    file: &SourceFile,
    dockerfile: &Dockerfile,
    compose_healthcheck: bool,
    findings: &mut Vec<Finding>,
) {
    let path = &file.path;
    let stages = dockerfile.stages();
    let args = dockerfile.global_args();
    let Some(last_index) = stages.len().checked_sub(1) else {
        if !dockerfile.instructions.is_empty() {
            findings.push(Finding::new(
                &crate::rules::meta::PARSE_ERROR,
                Location::file(path),
                "Dockerfile: no FROM instruction",
            ));
        }
        return;
    };
    check_base_images(path, &stages, &args, findings);
    check_instructions(path, dockerfile, findings);
    // Debug, test and dev-container images never serve traffic: who runs them and whether
    // they report health is not a deployment's concern.
    if is_development_image(path) {
        return;
    }

    let chain = stage_chain(&stages, last_index);
    let final_stage = &stages[last_index];
    // The last USER along the chain (final stage first) decides who runs the container.
    let user = chain
        .iter()
        .find_map(|stage| stage.body.iter().rev().find(|i| i.keyword == "USER"));
    let root_image = chain
        .last()
        .map(|stage| parse::substitute(&stage.image, &args))
        .unwrap_or_default();
    match user {
        Some(instruction) if is_root_user(&instruction.arguments) => findings.push(Finding::new(
            &RUNS_AS_ROOT,
            Location::line(path, instruction.line),
            format!(
                "the final stage switches to `USER {}`",
                instruction.arguments
            ),
        )),
        None if !nonroot_base(&root_image) && !root_image.eq_ignore_ascii_case("scratch") => {
            findings.push(Finding::new(
                &RUNS_AS_ROOT,
                Location::line(path, final_stage.from.line),
                format!(
                    "the final stage (`FROM {}`) has no USER instruction, so it runs as root",
                    final_stage.image
                ),
            ))
        }
        _ => {}
    }

    let healthcheck = chain
        .iter()
        .find_map(|stage| stage.body.iter().rev().find(|i| i.keyword == "HEALTHCHECK"));
    let has_healthcheck =
        healthcheck.is_some_and(|i| !i.arguments.trim().eq_ignore_ascii_case("none"));
    if !has_healthcheck && !compose_healthcheck {
        findings.push(Finding::new(
            &NO_HEALTHCHECK,
            Location::line(path, final_stage.from.line),
            "the final stage declares no HEALTHCHECK and no compose service built from it has one"
                .to_owned(),
        ));
    }
}

fn check_base_images(
    path: &str,
    stages: &[Stage<'_>],
    args: &HashMap<String, String>,
    findings: &mut Vec<Finding>,
) {
    for (index, stage) in stages.iter().enumerate() {
        let image = parse::substitute(&stage.image, args);
        let earlier_stage = stages[..index].iter().any(|s| {
            s.alias
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(&image))
        });
        if earlier_stage
            || image.eq_ignore_ascii_case("scratch")
            || image.is_empty()
            || image.contains('@')
        {
            continue;
        }
        // The tag is after the last `:` that follows the last `/` (a registry may have a port).
        let last_component = image.rsplit('/').next().unwrap_or(&image);
        let via = if image == stage.image {
            String::new()
        } else {
            format!(" (from `{}`)", stage.image)
        };
        let problem = match last_component.split_once(':') {
            None => Some(format!(
                "`FROM {image}`{via} has no tag, so it means `latest`"
            )),
            Some((_, "latest")) => {
                Some(format!("`FROM {image}`{via} uses the moving `latest` tag"))
            }
            Some(_) => None,
        };
        if let Some(message) = problem {
            findings.push(Finding::new(
                &UNPINNED_BASE,
                Location::line(path, stage.from.line),
                message,
            ));
        }
    }
}

fn check_instructions(path: &str, dockerfile: &Dockerfile, findings: &mut Vec<Finding>) {
    for instruction in &dockerfile.instructions {
        match instruction.keyword.as_str() {
            "ADD" => {
                let words = parse::words(&instruction.arguments);
                if words.iter().any(|w| w.starts_with("--checksum")) {
                    continue;
                }
                let plain = parse::without_flags(&words);
                // Every word but the last is a source.
                let sources = plain
                    .split_last()
                    .map(|(_, sources)| sources)
                    .unwrap_or_default();
                if let Some(url) = sources
                    .iter()
                    .find(|s| s.starts_with("http://") || s.starts_with("https://"))
                {
                    findings.push(Finding::new(
                        &ADD_FROM_URL,
                        Location::line(path, instruction.line),
                        format!("`ADD {url}` downloads without verification"),
                    ));
                }
            }
            "ENV" | "ARG" => {
                for (key, value) in parse::assignments(instruction) {
                    let Some(value) = value else { continue };
                    if is_secret_name(&key) && !value.trim().is_empty() && !is_reference(&value) {
                        let message = format!(
                            "`{} {key}` gives a secret a value that is stored in the image",
                            instruction.keyword
                        );
                        findings.push(Finding::new(
                            &SECRET_IN_IMAGE,
                            Location::line(path, instruction.line),
                            message,
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_like_compose_contexts() {
        assert_eq!(join("", "."), "");
        assert_eq!(join("", "./Dockerfile"), "Dockerfile");
        assert_eq!(join("deploy", "../docker/Dockerfile"), "docker/Dockerfile");
    }
}
