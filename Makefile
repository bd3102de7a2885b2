# make demo  : set up this machine, build, and run opsctl on a throw-away demo environment
# make test  : set up this machine (packages, Docker engine) and run the whole test suite
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup build release test demo templates bench clean

setup:
	bash scripts/setup.sh

build: setup
	swift build

release: setup
	swift build -c release

test: setup
	swift build --build-tests
	swift test --skip-build

demo: build
	bash scripts/demo.sh

# templates/ is embedded into the binary; regenerate after editing it (a test catches drift).
templates:
	python3 scripts/embed-templates.py

bench: release
	bash scripts/bench/startup.sh
	bash scripts/bench/backup.sh
	bash scripts/bench/verify.sh
	bash scripts/bench/smoke.sh
	bash scripts/bench/deploy.sh
	bash scripts/bench/bluegreen.sh
	bash scripts/bench/handoff.sh
	bash scripts/bench/swarm.sh

clean:
	rm -rf .build
