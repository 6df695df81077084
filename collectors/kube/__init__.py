"""Kubernetes attribution: kubelet PodResources (which pod holds which GPU) + the Kubernetes API."""
