//! The container image, as far as it can be tested without a container engine: the binaries the
//! Dockerfile builds (same script, hack/build-image-binary.sh, so same target and flags) are static;
//! the operator runs its commands and the emulator binary serves; the Dockerfile uses that script,
//! ships both and has a non-root runtime stage.

mod support;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::{output_text, repo_root};

/// Builds (once per test binary) the image's binary; a release build, several minutes when cold.
fn image_binary() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo_root().join("hack/build-image-binary.sh"))
            .current_dir(repo_root())
            .stderr(Stdio::inherit())
            .output()
            .expect("run hack/build-image-binary.sh");
        assert!(out.status.success(), "hack/build-image-binary.sh failed");
        let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().lines().last().unwrap().trim());
        if path.is_absolute() {
            path
        } else {
            repo_root().join(path)
        }
    })
}

/// The emulator binary the script copies beside the operator's.
fn image_emulator_binary() -> PathBuf {
    image_binary().with_file_name("partner-center-emulator")
}

#[test]
fn image_binaries_are_statically_linked() {
    for bin in [image_binary().clone(), image_emulator_binary()] {
        assert_static(&bin);
    }
}

fn assert_static(bin: &std::path::Path) {
    let file = Command::new("file").arg("-L").arg(bin).output().expect("file");
    let text = output_text(&file);
    assert!(
        text.contains("statically linked") || text.contains("static-pie linked"),
        "not static: {text}"
    );
    assert!(!text.contains("interpreter"), "has a dynamic loader: {text}");
    // ldd refuses a static executable ("not a dynamic executable", non-zero exit).
    let ldd = Command::new("ldd").arg(bin).output().expect("ldd");
    let text = output_text(&ldd);
    assert!(
        text.contains("not a dynamic executable") || text.contains("statically linked"),
        "ldd: {text}"
    );
}

#[test]
fn image_binary_runs_the_operator_commands_and_the_emulator() {
    let bin = image_binary();
    // With an empty environment, as in the distroless image (no libc, no shell, no HOME).
    let version = Command::new(bin).arg("--version").env_clear().output().unwrap();
    assert!(version.status.success(), "{}", output_text(&version));
    assert!(
        String::from_utf8_lossy(&version.stdout)
            .starts_with(concat!("partner-center-operator ", env!("CARGO_PKG_VERSION")))
    );
    let crds = Command::new(bin).arg("crdgen").env_clear().output().unwrap();
    assert!(crds.status.success(), "{}", output_text(&crds));
    for crd in ["customerplans", "partnercenterconnections", "resellers"] {
        let name = format!("name: {crd}.channel.csp.dev");
        assert!(
            String::from_utf8_lossy(&crds.stdout).contains(&name),
            "crdgen lacks {name}"
        );
    }

    // The emulator binary, as the chart's emulator Deployment runs it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(image_emulator_binary())
        .arg("--fixtures")
        .arg(repo_root().join("examples/emulator/fixtures.yaml"))
        .args(["--listen", &listen])
        .env_clear()
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status_line = loop {
        if let Ok(mut s) = std::net::TcpStream::connect(&listen) {
            s.write_all(b"GET /_emulator/healthz HTTP/1.0\r\nHost: x\r\n\r\n")
                .unwrap();
            let mut resp = String::new();
            let _ = s.read_to_string(&mut resp);
            break resp.lines().next().unwrap_or_default().to_string();
        }
        assert!(Instant::now() < deadline, "emulator did not listen on {listen}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(status_line.contains(" 200"), "{status_line}");
}

#[test]
fn dockerfile_builds_with_the_shared_script_and_runs_as_non_root() {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let lines: Vec<String> = {
        // Join continuation lines, drop comments.
        let mut out = vec![];
        let mut cur = String::new();
        for l in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            cur.push_str(l.trim_end().trim_end_matches('\\'));
            cur.push(' ');
            if !l.trim_end().ends_with('\\') {
                out.push(cur.trim().to_string());
                cur.clear();
            }
        }
        out.into_iter().filter(|l| !l.is_empty()).collect()
    };
    let froms: Vec<_> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(
        froms.len(),
        2,
        "multi-stage: a build stage and a runtime stage: {froms:?}"
    );
    assert!(
        froms[1].starts_with("FROM gcr.io/distroless/static") || froms[1] == "FROM scratch",
        "runtime stage: {}",
        froms[1]
    );
    let run = lines
        .iter()
        .find(|l| l.starts_with("RUN "))
        .expect("a RUN in the build stage");
    assert!(
        run.contains("bash hack/build-image-binary.sh /out/partner-center-operator"),
        "{run}"
    );
    let runtime: Vec<_> = lines.iter().skip_while(|l| *l != froms[1]).collect();
    assert!(
        runtime
            .iter()
            .any(|l| l.starts_with("COPY --from=build /out/partner-center-operator ")),
        "{runtime:?}"
    );
    assert!(
        runtime
            .iter()
            .any(|l| *l == "COPY --from=build /out/partner-center-emulator /usr/local/bin/partner-center-emulator"),
        "the image ships the emulator binary: {runtime:?}"
    );
    let user = runtime
        .iter()
        .find(|l| l.starts_with("USER "))
        .expect("USER in the runtime stage");
    let uid = user["USER ".len()..].split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "USER must be a numeric non-root uid: {user}"
    );
    // The same uid as the chart's default pod security context.
    let values = std::fs::read_to_string(repo_root().join("charts/partner-center-operator/values.yaml")).unwrap();
    let values: serde_json::Value = serde_saphyr::from_str(&values).unwrap();
    assert_eq!(
        values["podSecurityContext"]["runAsUser"]
            .as_u64()
            .map(|u| u.to_string())
            .as_deref(),
        Some(uid),
        "the chart's podSecurityContext.runAsUser differs from the image's USER {uid}"
    );
    assert!(
        runtime
            .iter()
            .any(|l| l.starts_with("ENTRYPOINT [\"/usr/local/bin/partner-center-operator\"]")),
        "{runtime:?}"
    );
}
