"""The one error hierarchy. Messages say what happened and what the user can do about it."""


class HelpdeskError(Exception):
    """Base of every error the product raises on purpose."""


class ConfigError(HelpdeskError):
    """A setting is missing or has a value the product cannot use."""


class CorpusError(HelpdeskError):
    """The corpus path does not exist or holds nothing that can be ingested."""


class UnreadableFileError(HelpdeskError):
    """One corpus file cannot be read or decoded; ingest reports it and skips the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class StoreError(HelpdeskError):
    """The data directory cannot be written or the store is damaged."""


class DataDirError(StoreError):
    """The data directory is on a read-only file system or its disk is full."""


class IndexMissingError(HelpdeskError):
    """Nothing has been ingested yet into the data directory."""
