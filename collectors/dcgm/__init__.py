"""dcgm-exporter collector: GPU samples from the metrics NVIDIA's GPU Operator already exports."""
