"""Groups of ``akhbar`` subcommands; each module exposes ``register(app)``."""
