"""Command-line entry points: ``zenflow <command>``. Each command lives in its own module with
``add_arguments(parser)`` and ``run(args) -> int`` (the process exit code)."""
