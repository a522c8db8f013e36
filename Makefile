# pvlab — `make help` lists the targets.
#
# Out-of-tree objects go to obj/ (obj/strip<N>/ for `make STRIP=N`, which compiles the student
# stubs of lab N and later in place of their solutions).  V=1 shows full commands.

CC      ?= gcc
LD      ?= ld
PYTHON  ?= python3
GDB     ?= gdb
ifeq ($(CC),cc)
CC := gcc
endif

ifdef STRIP
O := obj/strip$(STRIP)
STRIPFLAG := -DPVLAB_STRIP=$(STRIP)
else
O := obj
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

# GCC or clang (make CC=clang LD=ld.lld).  GCC turns loops that look like memset/memcpy into
# calls to them, which inside lib/string.c's own memset would call itself: it needs
# -fno-tree-loop-distribute-patterns.  Clang knows no such flag and never does that inside a
# function of that name.
# Clang is a cross compiler by nature: --target makes it emit x86-64 ELF on any host (macOS).
CC_IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -qi clang && echo 1)
CC_FLAGS_GCC := $(if $(CC_IS_CLANG),,-fno-tree-loop-distribute-patterns)
CC_TARGET := $(if $(CC_IS_CLANG),--target=x86_64-unknown-none-elf)

# Flags for code that runs on bare metal (hypervisor and guest).  See docs/ARCHITECTURE.md.
KCFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-pic -fno-pie \
	   -mno-red-zone -mgeneral-regs-only -fno-stack-protector -fno-omit-frame-pointer \
	   -fno-asynchronous-unwind-tables -fcf-protection=none $(CC_FLAGS_GCC) $(CC_TARGET) -Iinclude -I. $(STRIPFLAG)
KASFLAGS := -g -Iinclude -I. -D__ASSEMBLY__ $(CC_TARGET) $(STRIPFLAG)
KLDFLAGS := -nostdlib -no-pie -z max-page-size=0x1000 -z noexecstack

LIB_SRCS   := lib/string.c lib/printf.c
KERN_SRCS  := $(wildcard kern/*.c) $(wildcard kern/*.S)
HV_SRCS    := $(wildcard hv/*.c) $(wildcard hv/*.S)
GUEST_SRCS := $(wildcard guest/*.c) $(wildcard guest/*.S) $(wildcard guest/tests/*.c)

objs = $(patsubst %.c,$(O)/%.o,$(patsubst %.S,$(O)/%.o,$(1)))
HV_OBJS    := $(call objs,$(KERN_SRCS) $(HV_SRCS) $(LIB_SRCS))
GUEST_OBJS := $(call objs,$(GUEST_SRCS)) $(patsubst %.c,$(O)/guest/%.o,$(LIB_SRCS))

HV    := $(O)/hv.elf
GUEST := $(O)/guest/guest.elf

all: $(HV)
.PHONY: all

# Objects are rebuilt when the compiler or its flags change (make CC=clang after a GCC build).
FLAGS_STAMP := $(O)/.flags
FLAGS_NOW := $(CC) $(KCFLAGS) $(KASFLAGS) $(LD) $(KLDFLAGS)
ifneq ($(shell cat $(FLAGS_STAMP) 2>/dev/null),$(FLAGS_NOW))
$(shell mkdir -p $(O) && echo '$(FLAGS_NOW)' > $(FLAGS_STAMP))
endif
$(HV_OBJS) $(GUEST_OBJS): $(FLAGS_STAMP)

$(HV): $(HV_OBJS) kern/kernel.ld
	@echo "  LD      $@"
	$(Q)$(LD) $(KLDFLAGS) -T kern/kernel.ld -o $@ $(HV_OBJS)

$(GUEST): $(GUEST_OBJS) guest/guest.ld
	@echo "  LD      $@"
	$(Q)$(LD) $(KLDFLAGS) -T guest/guest.ld -o $@ $(GUEST_OBJS)

# The guest image is linked into the hypervisor (hv/guest_image.S .incbin's it).
$(O)/hv/guest_image.o: $(GUEST)
$(O)/hv/guest_image.o: KASFLAGS += -DGUEST_ELF=\"$(GUEST)\"

$(O)/%.o: %.c
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(KCFLAGS) -MMD -MP -c -o $@ $<

$(O)/%.o: %.S
	@mkdir -p $(@D)
	@echo "  AS      $<"
	$(Q)$(CC) $(KASFLAGS) -MMD -MP -c -o $@ $<

# lib/ is compiled a second time for the guest, with the guest's define.
$(O)/guest/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	@echo "  CC      $< (guest)"
	$(Q)$(CC) $(KCFLAGS) -DPVLAB_GUEST -MMD -MP -c -o $@ $<
$(O)/guest/%.o: KCFLAGS += -DPVLAB_GUEST

-include $(shell find $(O) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------------------------------
# Running.  ARGS is the boot command line: "<hypervisor options> -- <dom0 args> -- <domU args>".
ARGS    ?= -- test=hello -- test=hello
GDBPORT ?= $(shell expr `id -u` % 5000 + 25000)

# EMU=bochs: grade and bench in Bochs (Intel VMX emulation) instead of QEMU; see docs/VMX.md.
EMU     ?=
EMU_DEPS := $(if $(filter bochs,$(EMU)),deps-bochs,$(if $(filter-out qemu,$(EMU)),,deps-qemu))

# tools/status: exit 0 on the hypervisor's success, else one line saying what the status means.
qemu: $(HV) deps-qemu
	tools/status tools/qemu -G $(HV) "$(ARGS)"
qemu-nox: $(HV) deps-qemu
	@echo "*** Serial on this terminal.  Quit QEMU with Ctrl-a x."
	tools/status tools/qemu $(HV) "$(ARGS)"
qemu-gdb: $(HV) deps-qemu
	@echo "*** QEMU is waiting for GDB on localhost:$(GDBPORT): run 'make gdb' in another terminal."
	tools/qemu -g $(GDBPORT) $(HV) "$(ARGS)"
bochs: $(HV) deps-bochs
	tools/status tools/bochs $(HV) "$(ARGS)"
gdb: deps-gdb
	$(GDB) -q -iex "add-auto-load-safe-path $(CURDIR)/.gdbinit" -ex "pvlab-connect $(GDBPORT)" $(HV)
.PHONY: qemu qemu-nox qemu-gdb bochs gdb

# ---------------------------------------------------------------------------------------
# Tools: check, and install on Debian/Ubuntu when we can (root or sudo).
deps-build:
	@CC="$(CC)" LD="$(LD)" tools/deps build
deps-qemu:
	@tools/deps qemu
deps-gdb:
	@tools/deps gdb
deps-bochs:
	@tools/deps bochs
.PHONY: deps-build deps-qemu deps-gdb deps-bochs
$(HV_OBJS) $(GUEST_OBJS): | deps-build

# ---------------------------------------------------------------------------------------
# Tests and grading.
test: deps-qemu
	@$(PYTHON) tools/test.py

grade: $(HV) $(EMU_DEPS)
	@$(PYTHON) grade/grade.py $(if $(LAB),--lab $(LAB)) $(if $(TEST),--test '$(TEST)') $(if $(EMU),--emu $(EMU)) $(GRADEFLAGS)

host-tests:
	@$(MAKE) -s -C tests/host

# Instructors: the student tree of lab N (docs/KIT.md, Releasing) and the marker check.
release:
	@test -n "$(LAB)" || { echo "make release: say which lab, e.g. 'make release LAB=1 [DEST=../pvlab-lab1]'" >&2; exit 2; }
	@$(PYTHON) labs/release.py $(LAB) $(or $(DEST),../pvlab-lab$(LAB)) $(if $(ONTO),--onto $(ONTO)) $(RELEASEFLAGS)

check-markers:
	@$(PYTHON) labs/check_markers.py

compile_commands.json: Makefile
	@tools/compdb "$(CC) $(KCFLAGS)" $(KERN_SRCS) $(HV_SRCS) $(LIB_SRCS) $(GUEST_SRCS) > $@
	@echo "  GEN     $@"

clean:
	rm -rf obj compile_commands.json
	@$(MAKE) -s -C tests/host clean

help:
	@echo "pvlab targets:"
	@echo "  make                 build the hypervisor image $(HV) (guest linked in)"
	@echo "  make qemu            boot it in QEMU (VGA window, serial here)"
	@echo "  make qemu-nox        boot it with the serial console on this terminal"
	@echo "  make qemu-gdb        boot it and wait for GDB on port $(GDBPORT)"
	@echo "  make bochs           boot it in Bochs (Intel VMX backend; docs/VMX.md)"
	@echo "  make gdb             attach GDB to a 'make qemu-gdb' run"
	@echo "  make grade [LAB=N] [TEST=name]   grade your labs"
	@echo "  make test            the project's own tests (unit, system, lab kit)"
	@echo "  make release LAB=N [DEST=dir]    instructors: the student tree of lab N"
	@echo "  make check-markers   instructors: check the solution markers"
	@echo "  make bench           benchmarks"
	@echo "  make compile_commands.json       for editors (clangd)"
	@echo "  make clean"
	@echo "Variables: ARGS=\"<hv opts> -- <dom0 args> -- <domU args>\"  V=1  STRIP=N  KVM=0|1  EMU=bochs"
.PHONY: test grade host-tests release check-markers clean help

bench: $(HV) $(EMU_DEPS)
	@$(PYTHON) tools/bench.py $(if $(EMU),--emu $(EMU))
.PHONY: bench
