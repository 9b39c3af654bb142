"""Performance and quality benchmarks (not timed tests). Run them with `make bench`."""
