"""Sub-commands of the ``alphacut`` CLI, one module each (see ``alphacut.cli``)."""
