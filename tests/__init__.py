"""The test suite; packages mirror the product folders."""
