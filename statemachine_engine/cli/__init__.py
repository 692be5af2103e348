"""The console commands: thin entry points that parse arguments and call the library.

Each ``_module`` is one command (see ``[project.scripts]`` in pyproject.toml);
``python -m statemachine_engine.cli`` runs the ``statemachine`` command.
"""
