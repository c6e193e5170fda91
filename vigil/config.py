"""Settings from the environment, read once per process. Every knob a deployer turns is here."""

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(_env("VIGIL_HOME", ".vigil")).resolve())
    temporal_address: str = field(default_factory=lambda: _env("TEMPORAL_ADDRESS", "localhost:7233"))
    temporal_namespace: str = field(default_factory=lambda: _env("TEMPORAL_NAMESPACE", "default"))
    temporal_api_key: str = field(default_factory=lambda: _env("TEMPORAL_API_KEY"))
    temporal_tls: bool = field(default_factory=lambda: _env("TEMPORAL_TLS", "0").lower() in ("1", "true", "yes"))
    temporal_tls_cert: str = field(default_factory=lambda: _env("TEMPORAL_TLS_CERT"))
    temporal_tls_key: str = field(default_factory=lambda: _env("TEMPORAL_TLS_KEY"))
    task_queue: str = field(default_factory=lambda: _env("VIGIL_TASK_QUEUE", "vigil"))
    database_url_env: str = field(default_factory=lambda: _env("DATABASE_URL"))
    # "kid:base64key,kid:base64key": the first encrypts, all decrypt (rotation).
    encryption_keys_env: str = field(default_factory=lambda: _env("VIGIL_ENCRYPTION_KEYS"))
    # Largest request body the API accepts, in bytes.
    max_body_bytes: int = field(default_factory=lambda: int(_env("VIGIL_MAX_BODY_BYTES", "262144")))
    # Where people open Vigil: links in notifications point here.
    public_url: str = field(default_factory=lambda: _env("VIGIL_PUBLIC_URL", "http://localhost:8000").rstrip("/"))
    # Incidents a worker keeps in memory (about 0.2 MB each); an evicted one is replayed from its
    # history when it next wakes, which a burst of timers larger than this pays for in lateness.
    worker_cache: int = field(default_factory=lambda: int(_env("VIGIL_WORKER_CACHE", "2000")))
    # host:port where the worker serves Temporal's Prometheus metrics; empty: off.
    worker_metrics: str = field(default_factory=lambda: _env("VIGIL_WORKER_METRICS"))
    # Every this many seconds the watchdog replays open incidents whose history changed (0: off),
    # at most VIGIL_WATCHDOG_BUDGET of them a round (docs/reliability.md).
    watchdog_interval: int = field(default_factory=lambda: int(_env("VIGIL_WATCHDOG_INTERVAL", "60")))
    watchdog_budget: int = field(default_factory=lambda: int(_env("VIGIL_WATCHDOG_BUDGET", "200")))
    # Web UI origin allowed to call the codec endpoint.
    temporal_ui_origin: str = field(default_factory=lambda: _env("VIGIL_TEMPORAL_UI_ORIGIN", "http://localhost:8233"))
    # The Temporal Web UI the console links each incident's workflow to; empty: no link.
    temporal_ui_url: str = field(default_factory=lambda: _env("VIGIL_TEMPORAL_UI_URL").rstrip("/"))

    # Where email notices go: smtp://host:1025 (STARTTLS when offered), smtp://...?starttls=require,
    # smtps://user:pass@host:465. Empty: email notices wait in the outbox ("mail is not configured").
    smtp_url: str = field(default_factory=lambda: _env("VIGIL_SMTP_URL"))
    mail_from: str = field(default_factory=lambda: _env("VIGIL_MAIL_FROM", "Vigil <vigil@localhost>"))
    # Signs webhook bodies (X-Vigil-Signature: sha256=HMAC). Empty: webhook notices wait.
    webhook_secret: str = field(default_factory=lambda: _env("VIGIL_WEBHOOK_SECRET"))

    # The evidence vault (docs/wellbeing.md): where sealed files are kept (default VIGIL_HOME/evidence)
    # and the largest file an upload may be, in bytes (larger: 413).
    evidence_dir_env: str = field(default_factory=lambda: _env("VIGIL_EVIDENCE_DIR"))
    evidence_max_bytes: int = field(default_factory=lambda: int(_env("VIGIL_EVIDENCE_MAX_BYTES", "26214400")))
    # Set a bucket and the vault keeps its sealed files in S3-compatible storage instead (AWS S3,
    # MinIO, Ceph...; credentials from boto3's usual chain: AWS_ACCESS_KEY_ID, profiles, roles).
    evidence_s3_bucket: str = field(default_factory=lambda: _env("VIGIL_EVIDENCE_S3_BUCKET"))
    evidence_s3_prefix: str = field(default_factory=lambda: _env("VIGIL_EVIDENCE_S3_PREFIX"))
    evidence_s3_endpoint: str = field(default_factory=lambda: _env("VIGIL_EVIDENCE_S3_ENDPOINT"))
    evidence_s3_region: str = field(default_factory=lambda: _env("VIGIL_EVIDENCE_S3_REGION"))

    @property
    def evidence_dir(self) -> Path:
        return Path(self.evidence_dir_env).resolve() if self.evidence_dir_env else self.home / "evidence"

    @property
    def database_url(self) -> str:
        return self.database_url_env or f"sqlite:///{self.home / 'vigil.db'}"

    @property
    def keys_file(self) -> Path:
        return self.home / "encryption.keys"

    @property
    def admin_token_file(self) -> Path:
        """Where `vigil up` writes the first admin's token (0600), instead of printing it."""
        return self.home / "admin.token"


@cache
def settings() -> Settings:
    return Settings()
