"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class LganError(Exception):
    """An error whose message is meant for the user, shown without a traceback."""

    exit_code = 1


class ImageError(LganError):
    """A file could not be read as a usable image."""


class NoFaceError(LganError):
    """No face was found in an image."""


class DatasetError(LganError):
    """A dataset folder or index is missing or malformed."""


class ConfigError(LganError, ValueError):
    """A settings document (config.json, a recipe, an index) that does not fit its schema.

    Also a ValueError, so the places that already turn a bad setting into one line catch it.
    """
