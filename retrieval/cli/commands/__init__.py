"""The commands, one module per subject; ``retrieval.cli.main`` adds them to the group."""
