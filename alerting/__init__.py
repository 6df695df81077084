"""spendwatch alerting."""
