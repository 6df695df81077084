"""Tests of the stream simulators."""
