"""One exception tree for everything alphacut raises on purpose.

Every error carries a message fit for one line of output; errors about a file
name that file first, so a batch can print ``path: reason`` and go on.
"""

from __future__ import annotations

from pathlib import Path


class AlphacutError(Exception):
    """Base of every error alphacut raises deliberately."""


class ConfigError(AlphacutError):
    """The configuration file or a command-line setting is invalid."""


class InputError(AlphacutError):
    """One input file cannot be used; the batch goes on without it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DecodeError(InputError):
    """The file is not an image we can decode (broken, truncated, unsupported, too big)."""


class OutputError(AlphacutError):
    """An output file cannot be written."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class OutputExistsError(OutputError):
    """The output exists and neither --overwrite nor --skip-existing was given."""


class ModelError(AlphacutError):
    """A model cannot be found, fetched, verified or loaded."""


class ChecksumError(ModelError):
    """A downloaded or cached file does not match its pinned sha256."""


class OfflineError(ModelError):
    """A fetch was needed but the network is forbidden or unreachable."""


class ProviderError(AlphacutError):
    """An execution provider is missing, failed to start, or failed while running."""
