//! Integration tests of sera-sandbox, all through real processes.
//!
//! - `basics`: commands, environment scrubbing, patches, reset and diff.
//! - `hostile`: the hostile-code battery. Each case must be contained and reported, and the
//!   next command in the same scratch must run normally.
//! - `widened`: what the environment stage may ask for (network, writable folders) and what
//!   every stage gets from it (an overlay of prepared files, repository-relative variables).
//! - `setup`: errors when the backend is missing.
//!
//! These tests need bubblewrap (`apt-get install bubblewrap`); `.ci/run` installs it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sera_core::Patch;
use sera_sandbox::{
    CommandSpec, Isolation, Limits, Output, Sandbox, SandboxConfig, SandboxError, Scratch,
};

/// A small repository in a temporary directory, kept for the whole test binary.
fn repo() -> &'static Path {
    static REPO: OnceLock<tempfile::TempDir> = OnceLock::new();
    REPO.get_or_init(|| {
        // Outside /tmp, which bubblewrap replaces by a private one: the hostile tests need the
        // source to be visible (read-only) from inside the sandbox.
        let dir = tempfile::tempdir_in(visible_tmp()).expect("temporary directory");
        std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        std::fs::write(dir.path().join("src/a.txt"), "one\ntwo\nthree\n").expect("write");
        std::fs::write(dir.path().join("keep.txt"), "keep\n").expect("write");
        std::fs::create_dir_all(dir.path().join("target")).expect("mkdir");
        std::fs::write(dir.path().join("target/junk"), "junk").expect("write");
        dir
    })
    .path()
}

fn sandbox(isolation: Isolation, limits: Limits) -> Sandbox {
    let config =
        SandboxConfig { isolation, limits, output_cap: 64 << 10, ..SandboxConfig::default() };
    Sandbox::new(config).expect("bubblewrap works here (apt-get install bubblewrap)")
}

fn bwrap_scratch() -> Scratch {
    let limits = Limits {
        memory_bytes: Some(1 << 30),
        processes: Some(200),
        file_size_bytes: Some(10 << 20),
    };
    sandbox(Isolation::Bwrap, limits).scratch(repo()).expect("scratch")
}

fn sh(scratch: &Scratch, script: &str, timeout_secs: u64) -> Output {
    let spec = CommandSpec::shell(script).timeout(Duration::from_secs(timeout_secs));
    scratch.run(&spec).expect("the command starts")
}

/// The scratch still works normally after a hostile command.
fn assert_next_command_runs(scratch: &Scratch) {
    let out = sh(scratch, "cat src/a.txt && echo fine", 30);
    assert!(out.success(), "{out:?}");
    assert_eq!(out.stdout, "one\ntwo\nthree\nfine\n");
}

/// Whether any process on the machine has `needle` in its command line.
fn process_running(needle: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else { return false };
    entries.flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .map(|cmd| String::from_utf8_lossy(&cmd).replace('\0', " ").contains(needle))
            .unwrap_or(false)
    })
}

/// A temporary directory that the sandbox sees (read-only): /var/tmp where it exists.
fn visible_tmp() -> PathBuf {
    let var_tmp = PathBuf::from("/var/tmp");
    if var_tmp.is_dir() { var_tmp } else { std::env::temp_dir() }
}

fn outside_file(name: &str) -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir_in(visible_tmp()).expect("temporary directory"));
    let path = dir.path().join(name);
    std::fs::write(&path, "precious").expect("write");
    path
}

mod basics {
    use super::*;

    #[test]
    fn scratch_copies_the_repository_without_target() {
        let scratch = bwrap_scratch();
        assert!(scratch.path().join("src/a.txt").is_file());
        assert!(!scratch.path().join("target").exists());
        assert!(scratch.root().join("target").is_dir());
    }

    #[test]
    fn environment_is_scrubbed_and_home_is_in_the_scratch() {
        let scratch = bwrap_scratch();
        let out = sh(&scratch, "env", 30);
        assert!(out.success(), "{out:?}");
        let home = format!("HOME={}", scratch.root().join("home").display());
        assert!(out.stdout.lines().any(|line| line == home), "{}", out.stdout);
        // cargo sets this for the test process; the sandbox must not pass it on.
        assert!(!out.stdout.contains("CARGO_MANIFEST_DIR"), "{}", out.stdout);
        assert!(out.stdout.contains("CARGO_TARGET_DIR="));
    }

    #[test]
    fn stdin_exit_codes_and_merged_output_are_reported() {
        let scratch = bwrap_scratch();
        let out = scratch.run(&CommandSpec::new("cat").stdin("fed in")).expect("runs");
        assert_eq!(out.stdout, "fed in");
        let out = sh(&scratch, "echo out; echo err >&2; exit 3", 30);
        assert_eq!(
            (out.exit_code, out.stdout.as_str(), out.stderr.as_str()),
            (Some(3), "out\n", "err\n")
        );
        let spec = CommandSpec::shell("echo 1; echo 2 >&2; echo 3").merge_output(true);
        let out = scratch.run(&spec).expect("runs");
        assert_eq!((out.stdout.as_str(), out.stderr.as_str()), ("1\n2\n3\n", ""));
    }

    #[test]
    fn apply_reset_and_diff_round_trip() {
        let scratch = bwrap_scratch();
        let patch = Patch::between("src/a.txt", "one\ntwo\nthree\n", "one\n2\nthree\n");
        scratch.apply(&patch).expect("applies");
        assert_eq!(
            std::fs::read_to_string(scratch.path().join("src/a.txt")).unwrap(),
            "one\n2\nthree\n"
        );
        assert_eq!(scratch.diff().unwrap(), patch);
        sh(&scratch, "echo new > created.txt && rm keep.txt", 30);
        assert_eq!(scratch.diff().unwrap().paths(), vec!["created.txt", "keep.txt", "src/a.txt"]);
        scratch.reset_all().expect("resets");
        assert!(scratch.diff().unwrap().is_empty());
        assert_next_command_runs(&scratch);
    }

    #[test]
    fn paths_escaping_the_repository_are_refused() {
        let scratch = bwrap_scratch();
        let err = scratch.reset_files(["../outside"]).unwrap_err();
        assert!(matches!(err, SandboxError::BadPath(_)), "{err}");
        assert!(!err.is_environment());
    }
}

mod hostile {
    use super::*;

    #[test]
    fn deleting_files_outside_the_scratch_fails() {
        let scratch = bwrap_scratch();
        let victim = outside_file("victim.txt");
        let source = scratch.source().join("keep.txt");
        let script = format!(
            "rm -f {} {}; rm -rf {}",
            victim.display(),
            source.display(),
            scratch.source().display()
        );
        let out = sh(&scratch, &script, 30);
        assert!(!out.success(), "{out:?}");
        assert!(out.stderr.contains("Read-only file system"), "{}", out.stderr);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(source.is_file());
        assert_next_command_runs(&scratch);
    }

    #[test]
    fn writing_to_home_stays_in_the_scratch() {
        let scratch = bwrap_scratch();
        let real_home = PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()));
        let escapee = real_home.join("sera-sandbox-hostile-write");
        let script = format!("echo x > \"$HOME/note\"; echo x > {}", escapee.display());
        let out = sh(&scratch, &script, 30);
        assert!(!out.success(), "{out:?}");
        assert!(scratch.root().join("home/note").is_file());
        assert!(!escapee.exists());
        assert_next_command_runs(&scratch);
    }

    #[test]
    fn network_connections_fail() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("address").port();
        let scratch = bwrap_scratch();
        let script = format!(
            "exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected; exec 3<>/dev/tcp/1.1.1.1/80 && echo out"
        );
        let out = sh(&scratch, &script, 30);
        assert!(!out.stdout.contains("connected") && !out.stdout.contains("out"), "{out:?}");
        assert!(listener.accept().is_err(), "the sandbox reached a host socket");
        assert_next_command_runs(&scratch);
    }

    #[test]
    fn fork_bomb_is_contained() {
        let scratch = bwrap_scratch();
        let start = Instant::now();
        let out = sh(&scratch, ":(){ :|:& };:; sleep 100", 5);
        assert!(out.timed_out || !out.success(), "{out:?}");
        assert!(start.elapsed() < Duration::from_secs(30), "took {:?}", start.elapsed());
        assert_next_command_runs(&scratch);
    }

    #[test]
    fn infinite_loop_times_out() {
        let scratch = bwrap_scratch();
        let out = sh(&scratch, "while :; do :; done", 2);
        assert!(out.timed_out, "{out:?}");
        assert_eq!(out.signal, Some(9));
        assert!(out.duration < Duration::from_secs(10), "{:?}", out.duration);
        assert!(out.status_line().starts_with("timed out"));
        assert_next_command_runs(&scratch);
    }

    fn sleeping_grandchild_is_killed(isolation: Isolation, marker: &str) {
        let scratch = sandbox(isolation, Limits::default()).scratch(repo()).expect("scratch");
        let start = Instant::now();
        let out = sh(&scratch, &format!("(sleep {marker} &); echo parent done"), 60);
        assert!(out.success(), "{out:?}");
        assert_eq!(out.stdout, "parent done\n");
        assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
        std::thread::sleep(Duration::from_millis(200));
        assert!(!process_running(&format!("sleep {marker}")), "the grandchild survived");
        assert_next_command_runs(&scratch);
    }

    #[test]
    fn sleeping_grandchild_after_the_parent_exits_is_killed_in_bwrap() {
        sleeping_grandchild_is_killed(Isolation::Bwrap, "987.125");
    }

    #[test]
    fn sleeping_grandchild_after_the_parent_exits_is_killed_without_isolation() {
        sleeping_grandchild_is_killed(Isolation::None, "987.375");
    }

    #[test]
    fn gigabytes_of_output_are_capped() {
        let scratch = bwrap_scratch();
        let out =
            sh(&scratch, "head -c 2000000000 /dev/zero | tr '\\0' x; echo; echo the end", 120);
        assert!(out.success(), "{}", out.status_line());
        assert!(out.truncated);
        assert!(out.stdout.len() < 80 << 10, "{}", out.stdout.len());
        assert!(out.stdout.contains("bytes of output dropped]"));
        assert!(out.stdout.ends_with("the end\n"));
        assert_next_command_runs(&scratch);
    }

    #[test]
    fn memory_and_file_size_limits_hold() {
        let scratch = bwrap_scratch();
        let out = sh(&scratch, "head -c 20000000 /dev/zero > big", 30);
        assert!(!out.success(), "{out:?}");
        let size = std::fs::metadata(scratch.path().join("big")).map(|m| m.len()).unwrap_or(0);
        assert!(size <= 10 << 20, "{size}");
        let out = sh(&scratch, "python3 -c 'x = bytearray(3 * 1024**3)' && echo allocated", 30);
        assert!(!out.stdout.contains("allocated"), "{out:?}");
        assert!(out.stderr.contains("MemoryError"), "{}", out.stderr);
        assert_next_command_runs(&scratch);
    }
}

mod widened {
    use super::*;

    fn scratch_with(config: SandboxConfig) -> Scratch {
        Sandbox::new(config).expect("bubblewrap works here").scratch(repo()).expect("scratch")
    }

    /// The network interfaces a command sees, from `/proc/net/dev`.
    fn interfaces(scratch: &Scratch) -> Vec<String> {
        let out = sh(scratch, "tail -n +3 /proc/net/dev | cut -d: -f1", 30);
        assert!(out.success(), "{out:?}");
        out.stdout.lines().map(|line| line.trim().to_string()).collect()
    }

    #[test]
    fn only_a_sandbox_that_asks_for_the_network_sees_the_hosts_interfaces() {
        let closed = interfaces(&scratch_with(SandboxConfig::default()));
        assert_eq!(closed, ["lo"]);
        let host: Vec<String> = std::fs::read_to_string("/proc/net/dev")
            .expect("/proc/net/dev")
            .lines()
            .skip(2)
            .filter_map(|line| line.split(':').next().map(|name| name.trim().to_string()))
            .collect();
        assert!(host.len() > 1, "this test needs a machine with a network interface: {host:?}");
        let open =
            interfaces(&scratch_with(SandboxConfig { network: true, ..SandboxConfig::default() }));
        assert_eq!(open.len(), host.len(), "{open:?} vs the host's {host:?}");
    }

    #[test]
    fn writable_folders_can_be_written_and_nothing_else_outside_the_scratch() {
        let env = tempfile::tempdir_in(visible_tmp()).expect("temporary directory");
        let allowed = env.path().join("venv");
        let scratch = scratch_with(SandboxConfig {
            writable: vec![allowed.clone()],
            ..SandboxConfig::default()
        });
        let script = format!(
            "echo ok > {}/made && echo no > {}/other",
            allowed.display(),
            env.path().display()
        );
        let out = sh(&scratch, &script, 30);
        assert!(!out.success(), "{out:?}");
        assert_eq!(
            std::fs::read_to_string(allowed.join("made")).expect("written"),
            "ok
"
        );
        assert!(!env.path().join("other").exists());
    }

    #[test]
    fn readable_folders_under_tmp_are_seen_but_not_written() {
        let env = tempfile::tempdir().expect("a temporary directory under /tmp");
        std::fs::write(env.path().join("tool"), "installed\n").expect("write");
        let hidden = sh(&bwrap_scratch(), &format!("cat {}/tool", env.path().display()), 30);
        assert!(!hidden.success(), "bubblewrap's private /tmp hides it: {hidden:?}");
        let scratch = scratch_with(SandboxConfig {
            readable: vec![env.path().to_path_buf()],
            ..SandboxConfig::default()
        });
        let script = format!("cat {0}/tool; echo x > {0}/tool", env.path().display());
        let out = sh(&scratch, &script, 30);
        assert_eq!(out.stdout, "installed\n");
        assert!(!out.success(), "{out:?}");
        assert_eq!(std::fs::read_to_string(env.path().join("tool")).expect("kept"), "installed\n");
    }

    #[test]
    fn a_toolchain_home_under_tmp_stays_visible() {
        let home = tempfile::tempdir().expect("a temporary directory under /tmp");
        std::fs::write(home.path().join("marker"), "here\n").expect("write");
        let mut config = SandboxConfig::default();
        config.env.insert("CARGO_HOME".into(), home.path().display().to_string());
        let out = sh(&scratch_with(config), "cat \"$CARGO_HOME/marker\"", 30);
        assert_eq!(out.stdout, "here\n", "{out:?}");
    }

    #[test]
    fn an_overlay_is_part_of_every_copy_and_of_what_resets_restore() {
        let overlay = tempfile::tempdir().expect("temporary directory");
        std::fs::write(overlay.path().join("Cargo.lock"), "generated\n").expect("write");
        std::fs::create_dir_all(overlay.path().join("src")).expect("mkdir");
        std::fs::write(overlay.path().join("src/a.txt"), "one\nTWO\nthree\n").expect("write");
        let scratch = scratch_with(SandboxConfig {
            overlay: Some(overlay.path().to_path_buf()),
            ..SandboxConfig::default()
        });
        let out = sh(&scratch, "cat Cargo.lock src/a.txt keep.txt", 30);
        assert_eq!(out.stdout, "generated\none\nTWO\nthree\nkeep\n");
        assert!(scratch.diff().expect("diff").is_empty());
        assert!(scratch.changed_paths().expect("changed").is_empty());

        let out = sh(&scratch, "echo changed > src/a.txt && printf '\\377' > blob.bin", 30);
        assert!(out.success(), "{out:?}");
        // The diff is against the overlay's text, and binary files show up as changed paths.
        let diff = scratch.diff().expect("diff").render();
        assert!(diff.contains("-TWO") && diff.contains("+changed"), "{diff}");
        assert_eq!(scratch.changed_paths().expect("changed"), ["blob.bin", "src/a.txt"]);
        scratch.reset_files(["src/a.txt", "blob.bin", "Cargo.lock"]).expect("reset");
        let out = sh(&scratch, "cat Cargo.lock src/a.txt; ls blob.bin", 30);
        assert_eq!(out.stdout, "generated\none\nTWO\nthree\n");
    }

    #[test]
    fn repository_relative_variables_name_each_scratchs_own_copy() {
        let config = SandboxConfig {
            repo_env: [("PYTHONPATH".to_string(), vec![PathBuf::from("src"), PathBuf::from(".")])]
                .into(),
            ..SandboxConfig::default()
        };
        let sandbox = Sandbox::new(config).expect("bubblewrap works here");
        let (a, b) = (sandbox.scratch(repo()).expect("a"), sandbox.scratch(repo()).expect("b"));
        for scratch in [&a, &b] {
            let out = sh(scratch, "echo $PYTHONPATH", 30);
            let expected = format!(
                "{}:{}\n",
                scratch.path().join("src").display(),
                scratch.path().join(".").display()
            );
            assert_eq!(out.stdout, expected);
        }
    }
}

mod setup {
    use super::*;

    #[test]
    fn missing_bwrap_is_an_environment_error_saying_what_to_do() {
        let mut config = SandboxConfig::default();
        config.env.insert("PATH".into(), "/nonexistent".into());
        let err = Sandbox::new(config).unwrap_err();
        assert!(err.is_environment());
        let message = err.to_string();
        assert!(message.contains("apt-get install bubblewrap"), "{message}");
        assert!(message.contains("--isolation none"), "{message}");
    }

    #[test]
    fn isolation_names_parse() {
        assert_eq!("bwrap".parse::<Isolation>(), Ok(Isolation::Bwrap));
        assert_eq!("none".parse::<Isolation>(), Ok(Isolation::None));
        assert!("docker".parse::<Isolation>().is_err());
    }
}

mod mounted {
    use super::*;

    fn mounted_scratch(config: SandboxConfig) -> Scratch {
        let sandbox = Sandbox::new(config).expect("bubblewrap works here");
        let mut scratch = sandbox.scratch(repo()).expect("scratch");
        scratch.mount_at(Path::new("/testbed"), Path::new("/scratch")).expect("mounts");
        scratch
    }

    #[test]
    fn the_copy_is_really_at_testbed_and_its_writes_land_in_the_copy() {
        let config = SandboxConfig {
            repo_env: [("PYTHONPATH".to_string(), vec![PathBuf::from("src")])].into(),
            ..SandboxConfig::default()
        };
        let scratch = mounted_scratch(config);
        assert_eq!(scratch.visible_path(), Path::new("/testbed"));
        let out = sh(
            &scratch,
            "pwd; cat /testbed/src/a.txt | head -1; echo \"$HOME $CARGO_TARGET_DIR $PYTHONPATH\"; \
             echo new > /testbed/src/b.txt; touch /scratch/home/h; ls /scratch",
            30,
        );
        assert!(out.success(), "{out:?}");
        assert_eq!(
            out.stdout,
            "/testbed\none\n/scratch/home /scratch/target /testbed/src\nhome\nrepo\ntarget\ntmp\n"
        );
        assert_eq!(std::fs::read_to_string(scratch.path().join("src/b.txt")).expect("b"), "new\n");
        assert!(scratch.root().join("home/h").is_file());
        // A file that names /testbed works, as in SWE-bench's images.
        std::fs::write(scratch.path().join("run.sh"), "cat /testbed/keep.txt\n").expect("write");
        let out = sh(&scratch, "bash /testbed/run.sh && cd src && pwd", 30);
        assert_eq!(out.stdout, "keep\n/testbed/src\n", "{out:?}");
        // A command's own working directory is under the mount too.
        let out = scratch
            .run(&CommandSpec::shell("pwd").cwd("src").timeout(Duration::from_secs(30)))
            .expect("runs");
        assert_eq!(out.stdout, "/testbed/src\n");
    }

    #[test]
    fn the_rest_of_the_host_stays_read_only_and_the_real_scratch_path_is_not_needed() {
        let scratch = mounted_scratch(SandboxConfig::default());
        let outside = outside_file("mounted-precious");
        let script = format!(
            "echo x > {} 2>/dev/null && echo WROTE; touch /usr/evil 2>/dev/null && echo WROTE; \
             ls /usr/bin/env >/dev/null && echo host-visible; test -e {} || echo real-path-hidden",
            outside.display(),
            scratch.root().display()
        );
        let out = sh(&scratch, &script, 30);
        assert_eq!(out.stdout, "host-visible\nreal-path-hidden\n", "{out:?}");
        assert_eq!(std::fs::read_to_string(&outside).expect("read"), "precious");
    }

    #[test]
    fn mounts_over_system_folders_or_without_bubblewrap_are_refused() {
        let mut scratch = bwrap_scratch();
        for bad in ["/usr/testbed", "relative", "/", "/tmp/x", "/testbed/../etc"] {
            let err = scratch.mount_at(Path::new(bad), Path::new("/scratch")).expect_err(bad);
            assert!(matches!(err, SandboxError::BadMount(_)), "{bad}: {err}");
            assert!(!err.is_environment());
        }
        let plain = sandbox(Isolation::None, Limits::default());
        let mut scratch = plain.scratch(repo()).expect("scratch");
        let err = scratch.mount_at(Path::new("/testbed"), Path::new("/scratch")).expect_err("none");
        assert!(err.to_string().contains("only bubblewrap"), "{err}");
        assert_eq!(scratch.visible_path(), scratch.path());
    }
}
