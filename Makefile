# See README.md. Every target that needs Debian packages installs them first.
GO       ?= go
PREFIX   ?= /usr
DESTDIR  ?=
BUILDFLAGS  ?= -trimpath -ldflags=-s\ -w
export CGO_ENABLED = 0

BINS = bin/dkms bin/dkms-autoinstall

.PHONY: all build deps test unit-test vm-test demo install uninstall bench clean lint deb corpus

all: build

deps:
	sh scripts/deps.sh

build:
	$(GO) build $(BUILDFLAGS) -o bin/dkms ./cmd/dkms
	$(GO) build $(BUILDFLAGS) -o bin/dkms-autoinstall ./cmd/dkms-autoinstall

# One go test over every package, so the VM tests overlap the others.
# -count=1: test/crash, test/corpus and test/vm build and run our binaries
# in subprocesses, which go test's cache does not see, so a cached pass
# could stand for code that changed since.
test: deps build lint
	$(GO) test -count=1 -timeout 75m ./...

# The halves of `make test`, for a quicker loop: everything but the VM
# tests, and only the VM tests (DKMS_VMTEST=full adds the slow scenarios).
unit-test: deps build
	$(GO) test -count=1 -timeout 25m $$($(GO) list ./... | grep -v '/test/vm$$')

vm-test: deps build
	$(GO) test -count=1 -timeout 75m ./test/vm/

demo: deps build
	sh scripts/demo.sh

bench: deps build
	sh scripts/bench.sh

# Debian paths (merged /usr since bookworm, so /usr/lib/systemd also serves
# /lib/systemd). The unit is enabled by its preset on package installs; after
# a manual `make install` run `systemctl preset dkms-autoinstall.service`.
install: build
	install -D -m 0755 bin/dkms $(DESTDIR)$(PREFIX)/sbin/dkms
	install -D -m 0755 bin/dkms-autoinstall $(DESTDIR)$(PREFIX)/sbin/dkms-autoinstall
	# An edited framework.conf is the administrator's: never overwrite it.
	[ -e $(DESTDIR)/etc/dkms/framework.conf ] || install -D -m 0644 etc/framework.conf $(DESTDIR)/etc/dkms/framework.conf
	install -d $(DESTDIR)/etc/dkms/framework.conf.d
	install -D -m 0755 hooks/kernel-postinst.d/dkms $(DESTDIR)/etc/kernel/postinst.d/dkms
	install -D -m 0755 hooks/kernel-postinst.d/dkms $(DESTDIR)/etc/kernel/header_postinst.d/dkms
	install -D -m 0755 hooks/kernel-preinst.d/dkms $(DESTDIR)/etc/kernel/preinst.d/dkms
	install -D -m 0755 hooks/kernel-prerm.d/dkms $(DESTDIR)/etc/kernel/prerm.d/dkms
	install -D -m 0755 hooks/kernel-install/40-dkms.install $(DESTDIR)$(PREFIX)/lib/kernel/install.d/40-dkms.install
	install -D -m 0755 hooks/dkms_autoinstaller $(DESTDIR)$(PREFIX)/lib/dkms/dkms_autoinstaller
	install -D -m 0755 hooks/common.postinst $(DESTDIR)$(PREFIX)/lib/dkms/common.postinst
	install -D -m 0644 systemd/dkms-autoinstall.service $(DESTDIR)$(PREFIX)/lib/systemd/system/dkms-autoinstall.service
	install -D -m 0644 systemd/80-dkms.preset $(DESTDIR)$(PREFIX)/lib/systemd/system-preset/80-dkms.preset
	install -D -m 0644 man/dkms.8 $(DESTDIR)$(PREFIX)/share/man/man8/dkms.8
	install -D -m 0644 man/dkms-autoinstall.8 $(DESTDIR)$(PREFIX)/share/man/man8/dkms-autoinstall.8
	install -D -m 0644 completion/dkms.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/dkms
	ln -sf dkms $(DESTDIR)$(PREFIX)/share/bash-completion/completions/dkms-autoinstall
	install -D -m 0644 completion/_dkms $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_dkms

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/dkms $(DESTDIR)$(PREFIX)/sbin/dkms-autoinstall
	rm -f $(DESTDIR)/etc/kernel/postinst.d/dkms $(DESTDIR)/etc/kernel/header_postinst.d/dkms
	rm -f $(DESTDIR)/etc/kernel/preinst.d/dkms $(DESTDIR)/etc/kernel/prerm.d/dkms
	rm -f $(DESTDIR)$(PREFIX)/lib/kernel/install.d/40-dkms.install
	rm -f $(DESTDIR)$(PREFIX)/lib/dkms/dkms_autoinstaller $(DESTDIR)$(PREFIX)/lib/dkms/common.postinst
	rm -f $(DESTDIR)$(PREFIX)/lib/systemd/system/dkms-autoinstall.service
	rm -f $(DESTDIR)$(PREFIX)/lib/systemd/system-preset/80-dkms.preset
	rm -f $(DESTDIR)$(PREFIX)/share/man/man8/dkms.8 $(DESTDIR)$(PREFIX)/share/man/man8/dkms-autoinstall.8
	rm -f $(DESTDIR)$(PREFIX)/share/bash-completion/completions/dkms $(DESTDIR)$(PREFIX)/share/bash-completion/completions/dkms-autoinstall
	rm -f $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_dkms
	# framework.conf goes only when unedited; empty directories go with it.
	if cmp -s etc/framework.conf $(DESTDIR)/etc/dkms/framework.conf; then rm -f $(DESTDIR)/etc/dkms/framework.conf; fi
	-rmdir $(DESTDIR)/etc/dkms/framework.conf.d $(DESTDIR)/etc/dkms $(DESTDIR)$(PREFIX)/lib/dkms 2>/dev/null
	@if [ -e $(DESTDIR)/etc/dkms/framework.conf ]; then echo "left the edited $(DESTDIR)/etc/dkms/framework.conf in place"; fi

# go vet, staticcheck, deadcode, go mod tidy, gofmt and shellcheck; see the script.
lint: deps
	GO=$(GO) sh scripts/lint.sh

# The Debian package dkms-go, built with dpkg-buildpackage (docs/PACKAGES.md):
# dist/dkms-go_*.deb, then `apt install ./dist/dkms-go_*.deb`.
deb:
	sh scripts/deb.sh

# Debian's -dkms packages through our dkms and Debian's, zfs-dkms and
# nvidia-kernel-dkms included (test/corpus, docs/PACKAGES.md): twelve
# packages twice, hours on two cores.
corpus: deps build
	DKMS_CORPUS=full DKMS_BIN_DIR=$(CURDIR)/bin $(GO) test -count=1 -timeout 300m -v -run 'TestCorpus$$' ./test/corpus/

clean:
	rm -rf bin dist
