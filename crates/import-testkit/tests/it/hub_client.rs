//! The Hugging Face bucket double, checked by the Hub's own client: the
//! official `huggingface_hub` (2.4, PyPI) lists, asks paths-info, reads a
//! file's metadata and reads a byte range through `HfFileSystem`, against
//! the double, so the double cannot drift from what that client expects.

use std::process::Command;

use import_testkit::{HfOptions, HfStandIn};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs huggingface_hub==2.4.0; run cargo xtask test"]
async fn the_official_client_reads_the_double() {
    let hf = HfStandIn::start_with(HfOptions {
        // The CDN streams without Content-Length and refuses HEAD, as a CDN may.
        cdn_content_length: false,
        cdn_refuses_head: true,
        ..HfOptions::default()
    })
    .await
    .unwrap();
    hf.add_bucket("acme", "cams", None).unwrap();
    let bytes: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 251) as u8).collect();
    hf.put("acme", "cams", "day1/a.mp4", &bytes).unwrap();
    hf.put("acme", "cams", "day10/b.mp4", b"later").unwrap();
    hf.put("acme", "cams", "top.mp4", b"top").unwrap();
    let home = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/hub/client.py");
    let endpoint = hf.endpoint();
    let home_path = home.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(import_testkit::python::interpreter())
            .arg(script)
            .env("HF_ENDPOINT", endpoint)
            .env("BUCKET", "acme/cams")
            .env("HF_HOME", home_path)
            .env("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
            .env("HF_HUB_DISABLE_TELEMETRY", "1")
            .env("HF_HUB_DISABLE_XET", "1")
            .env("HF_HUB_DISABLE_UPDATE_CHECK", "1")
            .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            .env_remove("HF_TOKEN")
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    // The prefix is matched as a string: `day1` lists `day10` too.
    assert_eq!(
        seen["tree"],
        json!([
            ["directory", "day1", null, false],
            ["directory", "day10", null, false],
            ["file", "day1/a.mp4", 2000, true],
            ["file", "day10/b.mp4", 5, true],
        ])
    );
    assert_eq!(
        seen["top"],
        json!([
            ["directory", "day1"],
            ["directory", "day10"],
            ["file", "top.mp4"]
        ])
    );
    assert_eq!(seen["paths_info"], json!([["day1/a.mp4", 2000, 64]]));
    assert_eq!(seen["metadata"]["size"], 2000);
    assert_eq!(seen["metadata"]["xet_hash"].as_str().unwrap().len(), 64);
    let range: String = bytes[4..12].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(seen["range"], range.as_str());
    assert_eq!(seen["info_size"], 2000);
}
