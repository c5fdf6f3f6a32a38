# gonet_fibers.py: gdb command `gonet-fibers`, the fiber dump (gonet::DumpFibers) of a
# live process or a core file, for when the process cannot print it itself.
#
#   gdb -batch -ex 'source tools/gdb/gonet_fibers.py' -ex 'gonet-fibers' prog core
#   (gdb) gonet-fibers            every fiber, with the stacks of switched-out ones
#   (gdb) gonet-fibers 7          only fiber 7
#
# Our builds carry no DWARF types (-g1), so the script reads the runtime through the
# extern "C" symbols of fiber/internal/debug_layout.h: gonet_debug_layout (Fiber's field
# offsets, the context-switch backend, the CPU), gonet_debug_fiber_list (the head of the
# list of every Fiber) and gonet_debug_wait_reasons.
#
# Stacks: a parked fiber's registers are saved on its own stack (context_asm.cc) or in
# its ucontext. gdb cannot set registers in a core file, so a Python frame unwinder
# splices the fiber in: while a fiber is selected, the newest frame of the current
# thread "returns" into the fiber's saved registers, and gdb's own CFI unwinder walks
# the fiber's frames from there (function, file:line from the -g1 line tables).
# The thread's own frames, up to the spliced one, are skipped when printing.
import struct

import gdb
import gdb.unwinder

_STATUS = {0: "free", 1: "runnable", 2: "running", 3: "waiting", 4: "Blocking"}
_LAYOUT_FIELDS = ("version sizeof_fiber id status wait_reason wait_mode wait_fd "
                  "wait_since_ns stack_lo stack_size all_next site_file site_function "
                  "site_line parent_id context_backend ctx arch").split()
_MAX_FRAMES = 64


def _addr(symbol):
    try:
        return int(gdb.parse_and_eval("(unsigned long)&%s" % symbol))
    except gdb.error:
        return None


def _mem(addr, n):
    return bytes(gdb.selected_inferior().read_memory(addr, n))


def _u(addr, size):
    return int.from_bytes(_mem(addr, size), "little", signed=False)


def _cstr(addr, limit=512):
    if not addr:
        return None
    out = b""
    while len(out) < limit:
        try:
            chunk = _mem(addr + len(out), 64)
        except gdb.MemoryError:
            break
        end = chunk.find(b"\0")
        if end >= 0:
            return (out + chunk[:end]).decode("utf-8", "replace")
        out += chunk
    return out.decode("utf-8", "replace")


class _Layout:
    def __init__(self):
        a = _addr("gonet_debug_layout")
        if a is None:
            raise gdb.GdbError("gonet-fibers: no symbol gonet_debug_layout (not a gonet "
                               "program, or one older than fiber/internal/debug_layout.h)")
        vals = struct.unpack("<%dI" % len(_LAYOUT_FIELDS), _mem(a, 4 * len(_LAYOUT_FIELDS)))
        for k, v in zip(_LAYOUT_FIELDS, vals):
            setattr(self, k, v)
        if self.version != 1:
            raise gdb.GdbError("gonet-fibers: gonet_debug_layout version %d; this script "
                               "knows version 1" % self.version)


class _Fiber:
    def __init__(self, lay, addr):
        self.addr = addr
        self.id = _u(addr + lay.id, 8)
        self.status = _u(addr + lay.status, 1)
        self.reason = _u(addr + lay.wait_reason, 1)
        self.mode = chr(_u(addr + lay.wait_mode, 1) or ord("?"))
        self.fd = struct.unpack("<i", _mem(addr + lay.wait_fd, 4))[0]
        self.stack_lo = _u(addr + lay.stack_lo, 8)
        self.stack_size = _u(addr + lay.stack_size, 8)
        self.next = _u(addr + lay.all_next, 8)
        self.site_file = _cstr(_u(addr + lay.site_file, 8))
        self.site_function = _cstr(_u(addr + lay.site_function, 8))
        self.site_line = _u(addr + lay.site_line, 4)
        self.parent_id = _u(addr + lay.parent_id, 8)
        self.regs = self._saved_registers(lay)

    def in_stack(self, a, n=0):
        return self.stack_lo <= a and a + n <= self.stack_lo + self.stack_size

    def _saved_registers(self, lay):
        """The registers the fiber resumes with (name -> value), or None."""
        if self.status not in (1, 3):  # runnable or waiting: switched out
            return None
        if lay.context_backend == 0:
            sp = _u(self.addr + lay.ctx, 8)
            if lay.arch == 1:  # fpu cw, mxcsr, r15, r14, r13, r12, rbx, rbp, return address
                if not self.in_stack(sp, 72):
                    return None
                w = struct.unpack("<9Q", _mem(sp, 72))
                return {"r15": w[2], "r14": w[3], "r13": w[4], "r12": w[5], "rbx": w[6],
                        "rbp": w[7], "rip": w[8], "rsp": sp + 72}
            if lay.arch == 2:  # x19..x28, x29, x30 (lr), d8..d15, fpcr: 176 bytes
                if not self.in_stack(sp, 176):
                    return None
                w = struct.unpack("<12Q", _mem(sp, 96))
                regs = {"x%d" % (19 + i): w[i] for i in range(12)}
                regs.update({"pc": w[11], "sp": sp + 176})
                return regs
            return None
        g = self.addr + lay.ctx
        if lay.arch == 1:  # glibc gregs[]: REG_R12..R15 = 4..7, RBP 10, RBX 11, RSP 15, RIP 16
            w = struct.unpack("<17Q", _mem(g, 17 * 8))
            regs = {"r12": w[4], "r13": w[5], "r14": w[6], "r15": w[7], "rbp": w[10],
                    "rbx": w[11], "rsp": w[15], "rip": w[16]}
            return regs if self.in_stack(regs["rsp"]) else None
        if lay.arch == 2:  # regs[31], sp, pc
            w = struct.unpack("<33Q", _mem(g, 33 * 8))
            regs = {"x%d" % i: w[i] for i in range(19, 31)}
            regs.update({"sp": w[31], "pc": w[32]})
            return regs if self.in_stack(regs["sp"]) else None
        return None


def _fibers(lay):
    head_ptr = _addr("gonet_debug_fiber_list")
    if head_ptr is None:
        raise gdb.GdbError("gonet-fibers: no symbol gonet_debug_fiber_list")
    list_addr = _u(head_ptr, 8)
    if list_addr == 0:
        return []
    out, f, seen = [], _u(list_addr, 8), set()
    while f and f not in seen and len(seen) < 10_000_000:
        seen.add(f)
        fib = _Fiber(lay, f)
        if fib.status != 0:
            out.append(fib)
        f = fib.next
    return sorted(out, key=lambda x: x.id)


class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class _FiberSplice(gdb.unwinder.Unwinder):
    """While `regs` is set, the caller of the thread's newest real frame is the fiber's
    saved context. Frame 0 is often an inline frame (glibc's futex wait), which gdb
    never offers to Python unwinders: the first frame offered, the lowest level, is
    claimed, and `claimed` says which level that was."""

    def __init__(self):
        super().__init__("gonet-fiber-splice")
        self.regs = None
        self.claimed = None

    def __call__(self, pending_frame):
        if self.regs is None:
            return None
        if self.claimed is None:
            self.claimed = pending_frame.level()
        elif pending_frame.level() != self.claimed:
            return None
        arch = pending_frame.architecture().name()
        sp_name, pc_name = ("rsp", "rip") if "x86-64" in arch else ("sp", "pc")
        # The claimed frame's id takes the fiber's sp, not the thread's: gdb stops a
        # backtrace whose frames climb to a lower address ("previous frame inner to
        # this frame"), and the fiber's stack is usually below the thread's. (The
        # claimed frame's own newer neighbour is an inline frame or none, which gdb
        # does not compare.)
        ptr = gdb.lookup_type("unsigned long")
        info = pending_frame.create_unwind_info(
            _FrameId(gdb.Value(self.regs[sp_name]).cast(ptr), pending_frame.read_register(pc_name)))
        for name, value in self.regs.items():
            info.add_saved_register(name, gdb.Value(value).cast(ptr))
        return info


_splice = _FiberSplice()
gdb.unwinder.register_unwinder(None, _splice, replace=True)


def _frames(regs):
    """(pc, function, 'file:line' or None) of the fiber's frames, from its saved regs."""
    _splice.regs = regs
    _splice.claimed = None
    gdb.invalidate_cached_frames()
    out = []
    try:
        frame = gdb.newest_frame()
        while frame is not None and (_splice.claimed is None or frame.level() <= _splice.claimed):
            frame = frame.older()  # the thread's own frames, up to the claimed one
        if _splice.claimed is None:
            return out  # the splice failed (gdb printed why): no thread frames as the fiber's
        while frame is not None and len(out) < _MAX_FRAMES:
            pc = frame.pc()
            name = frame.name()
            if name is None:
                sym = gdb.execute("info symbol 0x%x" % pc, to_string=True).strip()
                name = sym.split(" in section")[0] if not sym.startswith("No symbol") else "??"
            sal = frame.find_sal()
            where = None
            if sal.symtab is not None and sal.line:
                where = "%s:%d" % (sal.symtab.filename, sal.line)
            out.append((pc, name, where))
            frame = frame.older()
    except gdb.error:
        pass
    finally:
        _splice.regs = None
        gdb.invalidate_cached_frames()
    return out


class GonetFibers(gdb.Command):
    """List gonet fibers and their stacks: gonet-fibers [ID]"""

    def __init__(self):
        super().__init__("gonet-fibers", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        lay = _Layout()
        reasons_addr = _addr("gonet_debug_wait_reasons")
        want = int(arg) if arg.strip() else None
        fibers = _fibers(lay)
        if not fibers:
            print("gonet-fibers: no fibers (no Run active, or gonet_debug_fiber_list unset)")
            return
        if gdb.selected_thread() is None:
            raise gdb.GdbError("gonet-fibers: no thread selected (no process or core?)")
        first = True
        for f in fibers:
            if want is not None and f.id != want:
                continue
            status = _STATUS.get(f.status, "status %d" % f.status)
            if f.status == 3:
                status = "waiting"
                if reasons_addr is not None and f.reason < 16:
                    status = _cstr(_u(reasons_addr + 8 * f.reason, 8)) or status
                if f.reason == 1 and f.fd >= 0:  # kIOWait
                    status += " (fd %d, %s)" % (f.fd, "write" if f.mode == "w" else "read")
            if not first:
                print()
            first = False
            print("fiber %d [%s]:" % (f.id, status))
            if f.regs is not None:
                for i, (pc, name, where) in enumerate(_frames(f.regs)):
                    print("#%-3d0x%016x %s%s" % (i, pc, name, " at " + where if where else ""))
            elif f.status in (2, 4):
                print("fiber running on a thread; see that thread's stack (thread apply all bt)")
            if f.site_function or f.site_file:
                line = "created by %s at %s:%d" % (f.site_function or "?", f.site_file or "?",
                                                   f.site_line)
                if f.parent_id:
                    line += " in fiber %d" % f.parent_id
                print(line)


GonetFibers()
