"""Pure, event-time detectors and the Engine that drives them (replay and the worker alike)."""
