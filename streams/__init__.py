"""spendwatch streams."""
