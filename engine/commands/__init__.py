"""CLI adapters: one module per command group, each exposing ``register(subparsers)``.

A command module adds its parsers with ``set_defaults(handler=...)``; a handler takes the
parsed ``argparse.Namespace`` and returns the process exit code. Handlers raise
``FinVeilError`` subclasses for expected failures; ``engine.cli.main`` prints them as one line.
"""
