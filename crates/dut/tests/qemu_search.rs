//! Finding Espressif's QEMU, with stand-in binaries (small scripts that
//! answer `--version` and `-machine help` like the real ones do).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use esp_ws_dut::qemu::{self, Launch, Search};

fn fake_qemu(dir: &Path, version: &str, machines: &[&str]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(qemu::BINARY);
    let list: String = machines
        .iter()
        .map(|m| format!("{m:<20} {m} board\n"))
        .collect();
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n--version) printf 'QEMU emulator version {version}\\nCopyright (c) 2003-2025\\n';;\n-machine) printf 'Supported machines are:\\n{list}';;\nesac\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn empty_search() -> Search {
    Search {
        explicit: None,
        env: None,
        path_var: Some("".into()),
        idf_tools_path: None,
        home: None,
    }
}

#[test]
fn a_stock_qemu_is_reported_as_not_espressifs_build() {
    let t = tempfile::tempdir().unwrap();
    let stock = fake_qemu(
        &t.path().join("bin"),
        "7.2.22 (Debian 1:7.2+dfsg-7)",
        &["lx60", "sim"],
    );
    let s = Search {
        explicit: Some(("--qemu".into(), stock.clone())),
        ..empty_search()
    };
    let err = qemu::find(&s).unwrap_err().to_string();
    assert!(
        err.starts_with("QEMU with the esp32 machine not found"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "--qemu: {} (QEMU emulator version 7.2.22",
            stock.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("machines: lx60 sim (no esp32: not Espressif's build)"),
        "{err}"
    );
    assert!(err.contains("idf_tools.py install qemu-xtensa"), "{err}");
}

#[test]
fn every_place_searched_is_named_when_nothing_is_found() {
    let t = tempfile::tempdir().unwrap();
    let s = Search {
        home: Some(t.path().to_path_buf()),
        ..empty_search()
    };
    let err = qemu::find(&s).unwrap_err().to_string();
    for want in [
        "ESP_WS_QEMU: not set",
        "PATH: no qemu-system-xtensa",
        "$IDF_TOOLS_PATH/tools/qemu-xtensa: IDF_TOOLS_PATH not set",
        "~/.espressif/tools/qemu-xtensa/*/qemu/bin:",
    ] {
        assert!(err.contains(want), "{want:?} missing in:\n{err}");
    }
}

#[test]
fn the_search_order_is_env_then_path_then_the_newest_idf_tool() {
    let t = tempfile::tempdir().unwrap();
    let tools = t.path().join("idf-tools");
    let old = fake_qemu(
        &tools.join("tools/qemu-xtensa/esp_develop_8.2.0_20240122/qemu/bin"),
        "8.2.0 (esp_develop_8.2.0_20240122)",
        &["esp32", "esp32s3"],
    );
    let new = fake_qemu(
        &tools.join("tools/qemu-xtensa/esp_develop_9.2.2_20250817/qemu/bin"),
        "9.2.2 (esp_develop_9.2.2_20250817)",
        &["esp32", "esp32s3"],
    );
    let stock = fake_qemu(&t.path().join("usr/bin"), "7.2.22", &["lx60"]);
    let env = fake_qemu(&t.path().join("env"), "9.0.0 (env)", &["esp32"]);

    // A stock QEMU on PATH is skipped; the newest tools version wins.
    let s = Search {
        path_var: Some(stock.parent().unwrap().as_os_str().to_owned()),
        idf_tools_path: Some(tools.clone()),
        ..empty_search()
    };
    let q = qemu::find(&s).unwrap();
    assert_eq!(q.path, new);
    assert_eq!(q.version, Some((9, 2, 2)));
    assert!(q.has_esp32());
    assert_ne!(q.path, old);

    // ESP_WS_QEMU comes first.
    let s = Search {
        env: Some(env.clone()),
        ..s
    };
    assert_eq!(qemu::find(&s).unwrap().path, env);
}

#[test]
fn old_espressif_builds_take_4mb_images_only() {
    assert_eq!(qemu::flash_sizes_for(Some((7, 2, 0))), vec![4 << 20]);
    assert_eq!(
        qemu::flash_sizes_for(Some((9, 2, 2))),
        vec![2 << 20, 4 << 20, 8 << 20, 16 << 20]
    );
    assert_eq!(
        qemu::parse_version("QEMU emulator version 9.2.2 (esp_develop_9.2.2_20250817)"),
        Some((9, 2, 2))
    );
    assert_eq!(
        qemu::parse_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)"),
        Some((7, 2, 22))
    );
}

#[test]
fn a_probe_that_hangs_is_cut_off() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join(qemu::BINARY);
    std::fs::write(&p, "#!/bin/sh\nexec sleep 30\n").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    let start = Instant::now();
    let err = qemu::probe_within(&p, Duration::from_millis(300))
        .unwrap_err()
        .to_string();
    assert!(err.contains("did not finish"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_command_line_is_idf_py_qemus_with_a_forwarded_port_and_qmp() {
    let l = Launch {
        qemu: "/opt/qemu/bin/qemu-system-xtensa".into(),
        machine: "esp32".into(),
        psram: Some("4M".into()),
        flash: "/run/qemu#1/flash.bin".into(),
        efuse: "/run/qemu#1/efuse.bin".into(),
        host_port: 41234,
        guest_port: 80,
        qmp_port: 41235,
        extra: vec!["-icount".into(), "shift=auto".into()],
    };
    let golden = "/opt/qemu/bin/qemu-system-xtensa -M esp32 -m 4M \
        -drive file=/run/qemu#1/flash.bin,if=mtd,format=raw \
        -drive file=/run/qemu#1/efuse.bin,if=none,format=raw,id=efuse \
        -global driver=nvram.esp32.efuse,property=drive,value=efuse \
        -global driver=timer.esp32.timg,property=wdt_disable,value=true \
        -nic user,model=open_eth,hostfwd=tcp:127.0.0.1:41234-:80 \
        -nographic -serial mon:stdio -no-reboot \
        -qmp tcp:127.0.0.1:41235,server,wait=off -icount shift=auto";
    assert_eq!(
        qemu::command_line(&l).join(" "),
        golden.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    // A user's own -nic replaces the default one.
    let mut own = l.clone();
    own.extra = vec!["-nic".into(), "user,model=open_eth".into()];
    let line = qemu::command_line(&own).join(" ");
    assert_eq!(line.matches("-nic").count(), 1, "{line}");
}
