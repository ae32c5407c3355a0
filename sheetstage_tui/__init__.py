"""sheetstage: the staging (DEV3) environment of a practice's Google Sheets, under git."""

__version__ = "0.1.0"
