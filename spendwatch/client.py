"""The public import path of the Python SDK: ``from spendwatch.client import SpendwatchClient``.

The SDK itself is :mod:`collectors.sdk`, with the other producers of contract events. This
module only re-exports it, so code written against ``spendwatch.client`` keeps working; it is
the one place in ``spendwatch/`` outside the CLI allowed to import a product package (the
import-boundary test names it).
"""

from collectors.sdk import SpendwatchClient, workload_dict

__all__ = ["SpendwatchClient", "workload_dict"]
