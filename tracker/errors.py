"""The one exception hierarchy: every error a user can cause or fix is a ``TrackerError``."""


class TrackerError(Exception):
    """Base of every error facetrack reports to a user."""


class ConfigError(TrackerError):
    """The configuration file is missing, malformed or out of bounds."""


class ImageError(TrackerError):
    """An image file cannot be read or is not an image."""


class NoFaceError(TrackerError):
    """An image that must hold a face holds none."""


class WeightsError(TrackerError):
    """Model weights are missing, unreadable or of the wrong kind."""


class DatasetError(TrackerError):
    """An evaluation data set is missing or malformed."""
