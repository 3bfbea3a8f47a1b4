# The two commands a new machine needs: `make demo` and `make test` (both set up first).
SHELL := /bin/bash
ENV := source scripts/env.sh &&

.PHONY: setup test test-fast demo lint bench bench-bag clean

setup:
	@bash scripts/setup.sh

test: setup
	@$(ENV) python -m pytest -q

# Unit tests only (no ROS graph, no models): seconds.
test-fast: setup
	@$(ENV) python -m pytest -q test/unit

demo: setup
	@$(ENV) python -m negas_ros.ros.demo --params config/demo.yaml --out demo_output

lint: setup
	@$(ENV) ruff check negas_ros test scripts launch && mypy

bench: setup
	@$(ENV) python scripts/bench_pipeline.py

# Memory of bdd100k-to-bag + evaluate at 500/1000/2000 frames (docs/benchmarks.md).
bench-bag: setup
	@$(ENV) python scripts/bench_bag_memory.py

clean:
	rm -rf .cache/ros build install log demo_output
