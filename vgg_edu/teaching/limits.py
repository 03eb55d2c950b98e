"""What one run of a submission may use: its time, memory, disk and processes, and the sandbox it runs in. The
grader's command line sets them (``grade``), the sandbox enforces them (``sandbox``, ``container``, ``bwrap``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    seconds: float = 600
    memory_gb: float = 8
    disk_mb: int = 1024
    processes: int = 256
    sandbox: str = "bwrap"  # or "podman", "docker"; "none" only where the teacher asks in so many words

    @property
    def sandboxed(self) -> bool:
        return self.sandbox != "none"
