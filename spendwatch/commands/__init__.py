"""One module per `spendwatch` sub-command; each exposes ``register(subparsers)``."""
