"""Fleet and billing stream simulators."""
