"""Modal screens: help, adapter picker, output settings, quit confirmation."""
