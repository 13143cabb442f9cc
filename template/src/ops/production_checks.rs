//! Production checks beyond the settings the guard judges: the deployment's own secrets and
//! the env file that holds them. `doctor` and `ops checklist` add these to the guard's list;
//! `serve` does not need them (compose refuses to start without the datastore passwords).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::config::ConfigSources;
use crate::guard::Violation;
use crate::ops::secrets::datastore_secret_violations;

/// Everything `doctor --env prod` checks besides `guard::rules_for_production`.
pub fn deployment_violations(sources: &ConfigSources, env_file: &Path) -> Vec<Violation> {
    let mut violations = datastore_secret_violations(sources);
    violations.extend(env_file_permission_violation(env_file));
    violations
}

/// An env file with secrets must not be readable by other users of the server.
pub fn env_file_permission_violation(env_file: &Path) -> Option<Violation> {
    let mode = fs::metadata(env_file).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| Violation {
        setting: ".env",
        reason: format!(
            "{} is readable or writable by other users (mode {mode:04o}): chmod 600 {}",
            env_file.display(),
            env_file.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_env_file_open_to_other_users_is_refused_and_a_private_one_passes() {
        let directory = tempfile::tempdir().unwrap();
        let env_file = directory.path().join(".env");
        assert_eq!(
            env_file_permission_violation(&env_file),
            None,
            "no file, no finding"
        );
        fs::write(&env_file, "JWT_SECRET=x\n").unwrap();
        fs::set_permissions(&env_file, fs::Permissions::from_mode(0o644)).unwrap();
        let violation = env_file_permission_violation(&env_file).unwrap();
        assert!(violation.reason.contains("0644"), "{}", violation.reason);
        fs::set_permissions(&env_file, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(env_file_permission_violation(&env_file), None);
    }

    #[test]
    fn deployment_violations_combine_datastore_secrets_and_the_env_file() {
        let directory = tempfile::tempdir().unwrap();
        let env_file = directory.path().join(".env");
        fs::write(&env_file, "").unwrap();
        fs::set_permissions(&env_file, fs::Permissions::from_mode(0o640)).unwrap();
        let mut sources = ConfigSources::default();
        sources
            .dotenv
            .insert("REDIS_PASSWORD".to_owned(), "CHANGE_ME_redis".to_owned());
        let named: Vec<_> = deployment_violations(&sources, &env_file)
            .iter()
            .map(|v| v.setting)
            .collect();
        assert_eq!(named, vec!["REDIS_PASSWORD", ".env"]);
    }
}
