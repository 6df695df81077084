"""spendwatch: catch AI spend and GPU waste while it happens, and tell the owner."""

__version__ = "0.1.0"
