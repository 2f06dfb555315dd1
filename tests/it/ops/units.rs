//! The systemd units pass `systemd-analyze verify`, and the service's exposure score is at most
//! 2.0. Skipped, saying why, where `systemd-analyze` cannot run.

use std::process::Command;

use super::*;

/// The unit file `name` of `systemd/`, its `ExecStart` pointing at the built binary (verify
/// checks it is executable).
fn unit_text(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd");
    std::fs::read_to_string(root.join(name)).unwrap().replace(
        "/usr/local/bin/hubspot-gateway",
        crate::support::process::BINARY,
    )
}

/// The service and its socket, written to `dir`.
fn units(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (service_path, socket_path) = (
        dir.join("hubspot-gateway.service"),
        dir.join("hubspot-gateway.socket"),
    );
    std::fs::write(&service_path, unit_text("hubspot-gateway.service")).unwrap();
    std::fs::write(&socket_path, unit_text("hubspot-gateway.socket")).unwrap();
    (service_path, socket_path)
}

/// `systemd-analyze` with `args`, or why it cannot run here.
fn analyze(dir: &Path, args: &[&str]) -> Result<std::process::Output, String> {
    Command::new("systemd-analyze")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|error| format!("systemd-analyze cannot run: {error}"))
}

/// `systemd-analyze verify` passes on `units` (in `dir`) and the exposure score of
/// `service` is at most 2.0; skipped, saying why, where `systemd-analyze` cannot run.
fn verify_and_score(test: &str, dir: &Path, units: &[&Path], service: &Path) {
    let mut verify_args = vec!["verify", "--man=no"];
    verify_args.extend(units.iter().map(|unit| unit.to_str().unwrap()));
    let verify = match analyze(dir, &verify_args) {
        Ok(output) => output,
        Err(reason) => {
            println!("SKIPPED {test}: {reason}");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify: {stderr}"
    );

    let service = service.to_str().unwrap();
    let security = analyze(dir, &["security", "--offline=yes", "--no-pager", service]).unwrap();
    let stdout = String::from_utf8_lossy(&security.stdout);
    let name = Path::new(service).file_name().unwrap().to_string_lossy();
    let heading = format!("Overall exposure level for {name}: ");
    let Some(score) = stdout
        .lines()
        .find_map(|line| line.split(heading.as_str()).nth(1))
    else {
        // systemd before 250 has no --offline.
        let stderr = String::from_utf8_lossy(&security.stderr);
        println!("SKIPPED the exposure check: systemd-analyze security --offline failed: {stderr}");
        return;
    };
    let score: f64 = score.split_whitespace().next().unwrap().parse().unwrap();
    assert!(score <= 2.0, "exposure {score} > 2.0:\n{stdout}");
}

#[test]
fn units_verify_and_are_hardened() {
    let dir = tempfile::tempdir().unwrap();
    let (service, socket) = units(dir.path());
    verify_and_score(
        "units_verify_and_are_hardened",
        dir.path(),
        &[&socket, &service],
        &service,
    );
}

/// The replica template (PostgreSQL store) verifies as an instance and is hardened alike.
#[test]
fn the_replica_template_verifies_and_is_hardened() {
    let dir = tempfile::tempdir().unwrap();
    let instance = dir.path().join("hubspot-gateway@a.service");
    std::fs::write(&instance, unit_text("hubspot-gateway@.service")).unwrap();
    verify_and_score(
        "the_replica_template_verifies_and_is_hardened",
        dir.path(),
        &[&instance],
        &instance,
    );
}
