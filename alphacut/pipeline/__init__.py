"""The removal pipeline: path -> image -> model input -> mask -> alpha -> output file.

Nothing here imports Textual; the CLI and the TUI both drive these functions.
"""
