"""bpclf: line-level boilerplate classification for web text."""

__version__ = "0.1.0"
