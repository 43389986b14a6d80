"""The emulator's knobs; the ones tests switch at runtime are plain mutable attributes."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PROMOTION_MODES", "Settings"]

PROMOTION_MODES = ("sync", "async")


@dataclass
class Settings:
    """Server-wide settings of one emulator."""

    api_key: str = "emulator-key"
    account_id: str = "emulator"
    promotion_mode: str = "sync"
    promotion_seconds: float = 1.0
    legacy_async_promotion: bool = False
    long_poll_seconds: float = 5.0
    job_start_seconds: float = 0.0
    future_ttl_seconds: float = 3600.0

    def __post_init__(self) -> None:
        self.set_promotion_mode(self.promotion_mode, self.promotion_seconds)

    def set_promotion_mode(self, mode: str, seconds: float | None = None) -> None:
        """``sync`` answers the model at once; ``async`` answers a long-running operation."""
        if mode not in PROMOTION_MODES:
            raise ValueError(f"promotion mode must be one of {PROMOTION_MODES}, got {mode!r}")
        if seconds is not None and seconds < 0:
            raise ValueError("promotion seconds must not be negative")
        self.promotion_mode = mode
        if seconds is not None:
            self.promotion_seconds = seconds
