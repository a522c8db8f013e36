# pvlab GDB set-up.  `make gdb` loads this file for you (it passes -iex
# "add-auto-load-safe-path <this dir>/.gdbinit").  To let a plain `gdb` in this directory load
# it, add this one line to ~/.config/gdb/gdbinit (or ~/.gdbinit):
#     add-auto-load-safe-path /path/to/pvlab/.gdbinit

# QEMU's x86-64 gdbstub always sends 64-bit registers: say so before connecting, or GDB
# answers "Remote 'g' packet reply is too long" while the CPU is still in 32-bit boot code.
set architecture i386:x86-64
set disassembly-flavor att
set pagination off
set confirm off

# pvlab-connect PORT: attach to `make qemu-gdb` (which prints the port; it is per user).
define pvlab-connect
  target remote localhost:$arg0
end
document pvlab-connect
Attach to QEMU started by `make qemu-gdb` on localhost:PORT.
end

# The guest kernel's symbols, for breakpoints inside a domain.  Breakpoints use virtual
# addresses under whatever CR3 is loaded, so guest and hypervisor addresses never collide
# (hypervisor at 1 MiB, guests at 4 MiB); filter one domain with a condition on $cr3.
define pvlab-guest-symbols
  add-symbol-file obj/guest/guest.elf
end
document pvlab-guest-symbols
Load the PV guest kernel's symbols (obj/guest/guest.elf) as well.
end

echo pvlab: symbols from obj/hv.elf; 'pvlab-guest-symbols' adds the guest's; 'help pvlab' shows the hypervisor's state.\n

# The `pvlab` commands (tools/gdb/pvlab.py, docs/GDB.md): domains, vcpu, frame, walk, trace.
# Paths are relative to the tree, where `make gdb` runs GDB.  Needs a GDB with Python.
source tools/gdb/pvlab.py
