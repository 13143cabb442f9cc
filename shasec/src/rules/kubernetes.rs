//! Kubernetes manifests: privileges, host namespaces, root, writable root filesystems, missing
//! limits and probes, literal secrets in `env`, mutable images.
//!
//! Judged: every YAML document with `apiVersion` and `kind` that holds a pod template (Pod,
//! Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob). Not
//! judged: files another engine renders first (a Helm chart's `templates/`), example and
//! development files, and kustomize patches (a patch names only what it changes), found through
//! the `patches` / `patchesStrategicMerge` / `patchesJson6902` of every kustomization.

use crate::finding::Severity;
use crate::rules::Rule;

pub static PRIVILEGED: Rule = Rule {
    id: "SHA050",
    name: "k8s-privileged",
    severity: Severity::High,
    title: "Kubernetes container runs privileged",
    summary: "A container (or init container) sets `securityContext.privileged: true`: it gets every \
              capability and the host's devices, so a compromise of the container is a compromise \
              of the node. Pod Security `baseline` and `restricted` refuse it.",
    remediation: "Remove `privileged: true`; drop every capability (`capabilities: {drop: [ALL]}`) \
                  and add back only the narrow one a process needs.",
    references: &["CWE-250", "checkov CKV_K8S_16", "Pod Security baseline"],
};

pub static HOST_NAMESPACE: Rule = Rule {
    id: "SHA051",
    name: "k8s-host-namespace",
    severity: Severity::High,
    title: "Pod shares the node's network, PID or IPC namespace",
    summary: "A pod spec sets `hostNetwork`, `hostPID` or `hostIPC` to true. With the host network \
              the pod listens on the node's interfaces, around NetworkPolicies; with the host PID or \
              IPC namespace it can see, signal or read the memory of the node's processes.",
    remediation: "Remove the setting; expose ports through a Service. Node agents that truly need it \
                  belong in a documented exception suppressed in `.shasec.toml`.",
    references: &[
        "CWE-250",
        "CWE-668",
        "checkov CKV_K8S_17",
        "checkov CKV_K8S_18",
        "checkov CKV_K8S_19",
    ],
};

pub static RUN_AS_ROOT_ALLOWED: Rule = Rule {
    id: "SHA052",
    name: "k8s-run-as-root-allowed",
    severity: Severity::Medium,
    title: "Kubernetes container may run as root",
    summary: "Neither the container's nor the pod's `securityContext` sets `runAsNonRoot: true` or a \
              non-zero `runAsUser`, so the container runs as whatever user its image names, root by \
              default (or `runAsUser: 0` asks for root explicitly). Pod Security `restricted` \
              requires `runAsNonRoot: true`.",
    remediation: "Set `runAsNonRoot: true` (and a numeric `runAsUser`, e.g. 65532) in the pod's \
                  `securityContext`, and build the image with a numeric non-root `USER`.",
    references: &["CWE-250", "checkov CKV_K8S_23", "Pod Security restricted"],
};

pub static WRITABLE_ROOT_FILESYSTEM: Rule = Rule {
    id: "SHA053",
    name: "k8s-writable-root-filesystem",
    severity: Severity::Low,
    title: "Kubernetes container has a writable root filesystem",
    summary: "A container does not set `securityContext.readOnlyRootFilesystem: true`: an attacker \
              who gets code execution can replace binaries and plant files that survive until the \
              container is recreated.",
    remediation: "Set `readOnlyRootFilesystem: true` and mount an `emptyDir` (`medium: Memory` for \
                  small scratch space) where the process must write, such as `/tmp`.",
    references: &["CWE-732", "checkov CKV_K8S_22"],
};

pub static NO_RESOURCE_LIMITS: Rule = Rule {
    id: "SHA054",
    name: "k8s-no-resource-limits",
    severity: Severity::Low,
    title: "Kubernetes container without memory or CPU limits",
    summary: "A container has no `resources.limits.memory` or no `resources.limits.cpu`: one \
              runaway or attacked pod can starve the others on its node (denial of service), and \
              the scheduler cannot plan for it.",
    remediation: "Set `resources.requests` and `resources.limits` (memory and CPU) from what the \
                  process uses under load.",
    references: &["CWE-770", "checkov CKV_K8S_11", "checkov CKV_K8S_13"],
};

pub static SECRET_IN_ENV: Rule = Rule {
    id: "SHA055",
    name: "k8s-secret-in-env",
    severity: Severity::High,
    title: "Literal secret in a Kubernetes container's env",
    summary: "An `env` entry whose name says it holds a secret (`*_PASSWORD`, `*_SECRET`, `API_KEY` …) \
              has a literal `value:`, or a connection URL there carries a literal password: the \
              secret is in the manifest, so in git and readable by anyone who can read the object. \
              Placeholders and empty values are not reported here (weak-secret, SHA001, judges \
              them); references (`valueFrom`, `$(VAR)`) and substitution tokens \
              (`API_KEY: API_KEY_VAL`) are fine.",
    remediation: "Put the value in a Secret created outside git (or by an external secrets \
                  operator) and reference it with `valueFrom.secretKeyRef`, or mount it as a file.",
    references: &["CWE-798", "CWE-312", "checkov CKV_K8S_35"],
};

pub static IMAGE_UNPINNED: Rule = Rule {
    id: "SHA056",
    name: "k8s-image-unpinned",
    severity: Severity::Medium,
    title: "Kubernetes image without a tag, or with a mutable one",
    summary: "A container image has no tag (so `latest`) or a mutable tag (`latest`, `stable`, \
              `edge`, `nightly`, `main`, `master`) and no digest: each node may pull a different \
              image, and a rollback does not roll back. An image whose tag or digest a \
              kustomization's `images:` sets is pinned there and not reported, nor is a bare \
              name that is no official image (the project builds it; its deploy tool substitutes \
              the pushed reference).",
    remediation: "Pin a version tag (`nginx:1.27.3`), or better a digest (`…@sha256:…`), or set \
                  `newTag` / `digest` for it in the kustomization's `images:`.",
    references: &[
        "CWE-1357",
        "CWE-494",
        "checkov CKV_K8S_14",
        "checkov CKV_K8S_43",
    ],
};

pub static NO_PROBES: Rule = Rule {
    id: "SHA057",
    name: "k8s-no-probes",
    severity: Severity::Low,
    title: "Long-running Kubernetes container without liveness or readiness probe",
    summary: "A container of a Deployment, StatefulSet, DaemonSet, ReplicaSet or ReplicationController \
              that declares a port has no `readinessProbe` or no `livenessProbe`: traffic reaches pods that cannot serve \
              yet, and a hung process is never restarted. Jobs, CronJobs and bare Pods run to \
              completion and are not judged.",
    remediation: "Add a `readinessProbe` on an endpoint that checks the pod's dependencies and a \
                  `livenessProbe` on one that only checks the process (and a `startupProbe` for a \
                  slow start).",
    references: &["CWE-754", "checkov CKV_K8S_8", "checkov CKV_K8S_9"],
};

// ---------------------------------------------------------------------------------------------
// Checks

use std::collections::HashSet;

use crate::audit::{Parsed, Project};
use crate::finding::{Finding, Location};
use crate::parse::yaml::Node;
use crate::rules::secrets;

const MUTABLE_TAGS: &[&str] = &["latest", "stable", "edge", "nightly", "main", "master"];
const LONG_RUNNING: &[&str] = &[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
];

/// A Kubernetes object: a mapping with string `apiVersion` and `kind`.
pub fn looks_like_object(node: &Node) -> bool {
    node.get("apiVersion").and_then(Node::as_str).is_some()
        && node.get("kind").and_then(Node::as_str).is_some()
}

/// A kustomization by its file name (kustomize reads no other).
pub fn is_kustomization(file_name: &str) -> bool {
    matches!(
        file_name,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    )
}

fn truthy(node: Option<&Node>) -> bool {
    node.and_then(Node::as_bool) == Some(true)
}

/// The pod spec of a workload object, with the object's kind.
fn pod_spec(object: &Node) -> Option<(&str, &Node)> {
    let kind = object.get("kind")?.as_str()?;
    let spec = object.get("spec")?;
    let pod = match kind {
        "Pod" => spec,
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => spec.get("template")?.get("spec")?,
        "CronJob" => spec
            .get("jobTemplate")?
            .get("spec")?
            .get("template")?
            .get("spec")?,
        _ => return None,
    };
    pod.is_mapping().then_some((kind, pod))
}

/// What kustomizations say about other files: which are patches, which images they pin.
#[derive(Default)]
struct Kustomize {
    patches: HashSet<String>,
    pinned_images: HashSet<String>,
}

fn join(directory: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = directory.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    Some(parts.join("/"))
}

fn kustomize_facts(parsed: &Parsed<'_>) -> Kustomize {
    let mut facts = Kustomize::default();
    for (file, documents) in &parsed.kustomizations {
        let directory = file.path.rsplit_once('/').map_or("", |(dir, _)| dir);
        for document in documents {
            let mut patch_paths: Vec<&str> = Vec::new();
            for key in ["patches", "patchesJson6902"] {
                for patch in document.get(key).map(Node::items).unwrap_or_default() {
                    if let Some(path) = patch.get("path").and_then(Node::as_str) {
                        patch_paths.push(path);
                    }
                }
            }
            for patch in document
                .get("patchesStrategicMerge")
                .map(Node::items)
                .unwrap_or_default()
            {
                if let Some(path) = patch.as_str() {
                    patch_paths.push(path);
                }
            }
            facts
                .patches
                .extend(patch_paths.into_iter().filter_map(|p| join(directory, p)));
            for image in document.get("images").map(Node::items).unwrap_or_default() {
                let pins = ["newTag", "digest"]
                    .iter()
                    .any(|key| image.get(key).and_then(Node::as_str).is_some());
                if pins && let Some(name) = image.get("name").and_then(Node::as_str) {
                    facts.pinned_images.insert(name.to_owned());
                }
            }
        }
    }
    facts
}

pub fn check(_project: &Project, parsed: &Parsed<'_>, findings: &mut Vec<Finding>) {
    let kustomize = kustomize_facts(parsed);
    for (file, documents) in &parsed.kubernetes {
        if kustomize.patches.contains(&file.path) {
            continue;
        }
        for document in documents {
            // `kind: List` wraps objects (kubectl get -o yaml).
            let objects: Vec<&Node> = if document.get("kind").and_then(Node::as_str) == Some("List")
            {
                document
                    .get("items")
                    .map(Node::items)
                    .unwrap_or_default()
                    .iter()
                    .collect()
            } else {
                vec![document]
            };
            for object in objects {
                check_object(&file.path, object, &kustomize, findings);
            }
        }
    }
}

fn check_object(path: &str, object: &Node, kustomize: &Kustomize, findings: &mut Vec<Finding>) {
    let Some((kind, pod)) = pod_spec(object) else {
        return;
    };
    let name = object
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .unwrap_or("(unnamed)");
    let containers = pod.get("containers").map(Node::items).unwrap_or_default();
    // A partial object (an inline patch, a fragment in docs) names no image: nothing to judge.
    if containers.is_empty() || containers.iter().any(|c| c.get("image").is_none()) {
        return;
    }
    let workload = format!("{kind} `{name}`");
    for key in ["hostNetwork", "hostPID", "hostIPC"] {
        if let Some((key_node, value)) = pod.get_entry(key)
            && truthy(Some(value))
        {
            findings.push(Finding::new(
                &HOST_NAMESPACE,
                Location::line(path, key_node.line),
                format!("{workload} sets `{key}: true`"),
            ));
        }
    }
    let pod_security = pod.get("securityContext");
    let init_containers = pod
        .get("initContainers")
        .map(Node::items)
        .unwrap_or_default();
    let long_running = LONG_RUNNING.contains(&kind);
    for (container, init) in containers
        .iter()
        .map(|c| (c, false))
        .chain(init_containers.iter().map(|c| (c, true)))
    {
        let container_name = container
            .get("name")
            .and_then(Node::as_str)
            .unwrap_or("(unnamed)");
        let what = if init {
            format!("{workload} init container `{container_name}`")
        } else {
            format!("{workload} container `{container_name}`")
        };
        let line = container.line;
        let security = container.get("securityContext");
        let setting = |key: &str| {
            security
                .and_then(|s| s.get(key))
                .or_else(|| pod_security.and_then(|s| s.get(key)))
        };
        if truthy(security.and_then(|s| s.get("privileged"))) {
            findings.push(Finding::new(
                &PRIVILEGED,
                Location::line(path, line),
                format!("{what} sets `privileged: true`"),
            ));
        }
        let run_as_user = setting("runAsUser")
            .and_then(Node::as_str)
            .and_then(|text| text.parse::<u64>().ok());
        if run_as_user == Some(0) {
            findings.push(Finding::new(
                &RUN_AS_ROOT_ALLOWED,
                Location::line(path, line),
                format!("{what} asks for root (`runAsUser: 0`)"),
            ));
        } else if !truthy(setting("runAsNonRoot")) && run_as_user.is_none() {
            findings.push(Finding::new(
                &RUN_AS_ROOT_ALLOWED,
                Location::line(path, line),
                format!("{what} sets neither `runAsNonRoot: true` nor a non-zero `runAsUser`"),
            ));
        }
        if !truthy(security.and_then(|s| s.get("readOnlyRootFilesystem"))) {
            findings.push(Finding::new(
                &WRITABLE_ROOT_FILESYSTEM,
                Location::line(path, line),
                format!("{what} does not set `readOnlyRootFilesystem: true`"),
            ));
        }
        if let Some(image) = container.get("image") {
            check_image(path, &what, image, kustomize, findings);
        }
        check_env(path, &what, container, findings);
        if init {
            continue;
        }
        let limits = container.get("resources").and_then(|r| r.get("limits"));
        let missing: Vec<&str> = ["memory", "cpu"]
            .into_iter()
            .filter(|key| limits.and_then(|l| l.get(key)).is_none())
            .collect();
        if !missing.is_empty() {
            findings.push(Finding::new(
                &NO_RESOURCE_LIMITS,
                Location::line(path, line),
                format!("{what} has no {} limit", missing.join(" or ")),
            ));
        }
        // A container that declares no port serves nothing to probe for readiness (a worker,
        // a load generator): judged only when it listens.
        if long_running
            && !container
                .get("ports")
                .map(Node::items)
                .unwrap_or_default()
                .is_empty()
        {
            let missing: Vec<&str> = ["readinessProbe", "livenessProbe"]
                .into_iter()
                .filter(|key| container.get(key).is_none())
                .collect();
            if !missing.is_empty() {
                findings.push(Finding::new(
                    &NO_PROBES,
                    Location::line(path, line),
                    format!("{what} has no {}", missing.join(" and no ")),
                ));
            }
        }
    }
}

fn check_image(
    path: &str,
    what: &str,
    image_node: &Node,
    kustomize: &Kustomize,
    findings: &mut Vec<Finding>,
) {
    let Some(image) = image_node.as_str().map(str::trim) else {
        return;
    };
    // Substituted at deploy time (envsubst, Helm, skaffold), or pinned by digest.
    if image.is_empty() || image.contains('$') || image.contains("{{") || image.contains('@') {
        return;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    let (repository_end, tag) = match last.split_once(':') {
        Some((_, tag)) => (image.len() - tag.len() - 1, Some(tag.to_ascii_lowercase())),
        None => (image.len(), None),
    };
    let repository = &image[..repository_end];
    // A bare name that is no Docker official image cannot be pulled: the project builds it and
    // its deploy tool (skaffold, tilt, kustomize `images:`) substitutes the pushed reference.
    let local_build = !repository.contains('/')
        && !crate::rules::compose::OFFICIAL_IMAGES
            .contains(&repository.to_ascii_lowercase().as_str());
    if local_build || kustomize.pinned_images.contains(repository) {
        return;
    }
    let problem = match tag.as_deref() {
        None => "has no tag (so `latest`)".to_owned(),
        Some(tag) if MUTABLE_TAGS.contains(&tag) => format!("uses the mutable tag `{tag}`"),
        Some(_) => return,
    };
    findings.push(Finding::new(
        &IMAGE_UNPINNED,
        Location::line(path, image_node.line),
        format!("{what} image `{image}` {problem}"),
    ));
}

/// A literal that could be a working credential: not empty, not a placeholder, not a reference.
fn could_be_credential(value: &str) -> bool {
    !secrets::is_reference(value)
        && !value.contains("{{")
        && !matches!(
            secrets::judge(value),
            Some(secrets::Weakness::Empty | secrets::Weakness::Placeholder)
        )
}

fn check_env(path: &str, what: &str, container: &Node, findings: &mut Vec<Finding>) {
    for entry in container.get("env").map(Node::items).unwrap_or_default() {
        let (Some(name), Some(value)) = (
            entry.get("name").and_then(Node::as_str),
            entry.get("value").and_then(Node::as_str),
        ) else {
            continue;
        };
        let line = entry.get_entry("value").map_or(entry.line, |(k, _)| k.line);
        if secrets::is_secret_name(name)
            && could_be_credential(value)
            && !secrets::is_substitution_token(name, value)
        {
            findings.push(Finding::new(
                &SECRET_IN_ENV,
                Location::line(path, line),
                format!("{what} sets `{name}` to a literal value"),
            ));
        } else if let Some(password) = secrets::url_password(value)
            && could_be_credential(password)
        {
            findings.push(Finding::new(
                &SECRET_IN_ENV,
                Location::line(path, line),
                format!("{what} sets `{name}` to a URL with a literal password"),
            ));
        }
    }
}
