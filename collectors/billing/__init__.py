"""Billing collectors: FOCUS cost exports and LLM usage exports into ``billing_delta`` events."""
