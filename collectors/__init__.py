"""spendwatch collectors."""
