"""cwsim's benchmarks: run them with `make bench` (or `python -m benchmarks [name ...]`)."""
