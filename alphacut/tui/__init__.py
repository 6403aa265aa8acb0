"""The Textual user interface. The only package in alphacut that imports Textual."""
