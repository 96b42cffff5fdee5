//! The real binary as an operator deploys it: one data directory and database for every
//! start, the CLI to mint service tokens, and `tokend serve` on a free port, killed when the
//! test ends (the crash and drain tests).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{TEST_PEPPERS, TEST_SESSION_SECRET, TestResult};

/// One deployment: its data directory and database, the same for every start.
pub struct Deployment {
    pub dir: tempfile::TempDir,
    pub url: String,
    /// Further `TOKEND_*` settings of every start.
    pub settings: Vec<(&'static str, String)>,
}

impl Deployment {
    /// `tokend` with a clean environment and this deployment's settings.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tokend"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TOKEND_DATA_DIR", self.dir.path())
            .env("TOKEND_DATABASE_URL", &self.url)
            .env("TOKEND_PEPPERS", TEST_PEPPERS)
            .env("TOKEND_SESSION_JWT_SECRET", TEST_SESSION_SECRET)
            .envs(self.settings.iter().map(|(key, value)| (key, value)));
        command
    }

    /// Mints a service token with the CLI (no server needed); returns its value.
    pub fn mint(&self, name: &str, permission: &str) -> TestResult<String> {
        let output = self
            .command()
            .args(["service-token", "create", "--name", name])
            .args(["--permission", permission])
            .output()?;
        if !output.status.success() {
            return Err(format!(
                "service-token create {name}: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(String::from_utf8(output.stdout)?.trim_end().to_owned())
    }

    /// Starts `tokend serve` on a free port (start number `run`, logging to `serve-RUN.log`)
    /// and waits until `/healthz` answers.
    pub async fn start(&self, run: usize) -> TestResult<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = self.dir.path().join(format!("serve-{run}.log"));
        let child = self
            .command()
            .env("TOKEND_BIND", format!("127.0.0.1:{port}"))
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Some(status) = server.child.try_wait()? {
                return Err(format!(
                    "start {run} exited ({status}):\n{}",
                    std::fs::read_to_string(&log)?
                )
                .into());
            }
            if client
                .get(server.url("/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!("start {run} did not answer /healthz within 15 s").into())
    }
}

/// A running `tokend serve`; killed when dropped, even when the test fails.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL on Unix: no graceful shutdown, no final usage flush.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
