# make demo  : set up this machine, build, and run opsctl on a throw-away demo environment
# make test  : set up this machine (packages, Docker engine) and run the whole test suite
SHELL := /bin/bash
export PATH := /opt/swift/usr/bin:$(PATH)

.PHONY: setup build release test demo bench clean static install uninstall deb

# make install PREFIX=/usr/local DESTDIR=  (packagers set DESTDIR); make deb → dist/
PREFIX ?= /usr/local
DESTDIR ?=
DIST ?= $(CURDIR)/dist

setup:
	bash scripts/setup.sh

build: setup
	swift build

release: setup
	swift build -c release

test: setup
	swift build --build-tests
	bash scripts/build-static.sh   # the install and .deb test reuses this release build
	swift test --skip-build

demo: build
	bash scripts/demo.sh

bench: release
	bash scripts/bench/startup.sh
	bash scripts/bench/backup.sh
	bash scripts/bench/db.sh
	bash scripts/bench/verify.sh
	bash scripts/bench/smoke.sh
	bash scripts/bench/deploy.sh
	bash scripts/bench/bluegreen.sh
	bash scripts/bench/canary.sh
	bash scripts/bench/handoff.sh
	bash scripts/bench/offsite.sh
	bash scripts/bench/swarm.sh
	bash scripts/bench/incident.sh

# The release build with the Swift runtime and Foundation linked in (.build-static/), and
# swift-argument-parser's generate-manual for the man page. install and deb share it.
static:
	bash scripts/build-static.sh

install: static
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" bash scripts/install.sh

uninstall:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" bash scripts/install.sh --uninstall

deb: static
	DIST="$(DIST)" bash scripts/package-deb.sh

clean:
	rm -rf .build .build-static dist
