"""The ``emo-pillars`` command line, in the shape of ``datasets-cli``: one module per command.

Each command module defines ``NAME``, ``HELP``, ``register_subcommand(parser)`` (its options) and ``run(args)``
(check the options, call the library, print; returns the exit status); a command that writes also says in ``KEPT``
what a write refused by the file system leaves (the end of its one error line). Heavy packages (torch, transformers,
datasets, gradio) are imported inside ``run``, so ``emo-pillars --help`` starts fast. :mod:`.cli` holds the one
``main``. Nothing in the library imports this package.
"""

#: The command modules, in the order ``--help`` lists them.
COMMANDS = (
    "demo",
    "generate",
    "merge",
    "build_dataset",
    "push_dataset",
    "train",
    "predict",
    "finetune",
    "evaluate",
    "export",
    "import_model",
    "app",
    "taxonomy",
)
