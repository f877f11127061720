"""The benchmark's scenario families, one module each, run by bench.run."""
