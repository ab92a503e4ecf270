#!/usr/bin/env python3
"""Writes the fake dom0 /proc trees proc-6.1/ and proc-5.10/ (see README.md).

Run from this directory: ./make-proc.py.  The trees are committed; this is
their recipe, so a change is reviewed as a diff of the trees.

Thread names follow Linux 6.1.192 (Debian linux-source-6.1):
  blkback  kthread_run(..., "%s-%d", name, ring), name = "%d.%s" (domid, dev)
           cut to 15 characters by blkback_name()  (xen-blkback/xenbus.c)
  netback  "%s-guest-rx" / "%s-dealloc" over queue->name "%s-q%u" over the
           netdev "vif%u.%u"                        (xen-netback/interface.c, xenbus.c)
  napi     "napi/%s-%d" (netdev, napi id)           (net/core/dev.c)
proc-6.1 shows kthreads' full names (get_kthread_comm, Linux >= 5.17);
proc-5.10 shows every comm cut to 15 characters, as older kernels do.
"""
import os
import shutil

KT_FLAGS = 0x208040      # PF_KTHREAD | PF_NOFREEZE | PF_FORKNOEXEC
USER_FLAGS = 0x400100

def stat_line(pid, comm, ppid, flags):
    rest = ["0"] * 43
    return f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 {flags} " + " ".join(rest) + "\n"

def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)

def task(root, pid, comm, ppid, flags, cmdline=None, threads=(), stat=True):
    d = os.path.join(root, str(pid))
    write(os.path.join(d, "comm"), comm + "\n")
    if stat:
        write(os.path.join(d, "stat"), stat_line(pid, comm, ppid, flags))
    write(os.path.join(d, "cmdline"), "".join(a + "\0" for a in (cmdline or [])))
    for tid, tcomm in [(pid, comm)] + list(threads):
        td = os.path.join(d, "task", str(tid))
        write(os.path.join(td, "comm"), tcomm + "\n")
        if stat:
            write(os.path.join(td, "stat"), stat_line(tid, tcomm, ppid, flags))

def kthread(root, pid, name, cut, **kw):
    task(root, pid, name[:15] if cut else name, 2, KT_FLAGS, **kw)

def user(root, pid, comm, cmdline, threads=(), ppid=1):
    task(root, pid, comm[:15], ppid, USER_FLAGS, cmdline=cmdline,
         threads=[(t, c[:15]) for t, c in threads])

QEMU = "/usr/lib/xen-4.17/bin/qemu-system-i386"

def tree(root, cut):
    shutil.rmtree(root, ignore_errors=True)
    user(root, 1, "systemd", ["/sbin/init"], ppid=0)
    task(root, 2, "kthreadd", 0, KT_FLAGS)
    kthread(root, 30, "xenbus", cut)
    kthread(root, 31, "xenwatch", cut)
    kthread(root, 100, "kworker/3:1", cut)
    user(root, 400, "xenstored", ["/usr/sbin/xenstored", "--pid-file", "/var/run/xenstored.pid"],
         threads=[(401, "xenstored")])
    user(root, 410, "xenconsoled", ["/usr/sbin/xenconsoled", "--pid-file=/var/run/xenconsoled.pid"])
    # Debian's xen-qemu-dom0-disk-backend: the qdisk backend of every domain.
    user(root, 420, "qemu-system-i386", [QEMU, "-xen-domid", "0", "-xen-attach", "-name", "dom0",
         "-nographic", "-M", "xenpv", "-daemonize", "-monitor", "/dev/null"],
         threads=[(421, "qemu-system-i386"), (422, "call_rcu")])
    # Domain 3 (PV, "web"): xvda one ring, xvdb two rings, a long device name.
    kthread(root, 500, "3.xvda-0", cut)
    kthread(root, 501, "3.xvdb-0", cut)
    kthread(root, 502, "3.xvdb-1", cut)
    kthread(root, 505, "3.averyverylong-0", cut)   # "3.averyverylongdevname" cut by blkback_name()
    # Domain 12 (HVM, "db") and 31 (decoy: "31" starts like "3").
    kthread(root, 503, "12.xvda-0", cut)
    kthread(root, 504, "31.xvda-0", cut)
    # netback: vif3.0 with two queues, vif12.0 and vif31.0 with one.
    pid = 510
    for dom, queues in ((3, 2), (12, 1), (31, 1)):
        for q in range(queues):
            for kind in ("guest-rx", "dealloc"):
                kthread(root, pid, f"vif{dom}.0-q{q}-{kind}", cut)
                pid += 1
    kthread(root, 520, "napi/vif3.0-8193", cut)
    kthread(root, 521, "napi/vif31.0-8195", cut)
    # Decoys: a user process with a blkback-like name, a kthread whose
    # stat is gone (exited between listing and reading).
    user(root, 600, "3.xvda-0", ["./3.xvda-0"])
    kthread(root, 601, "vif3.1-q0-guest-rx", cut, stat=False)
    # Device models: domain 12's HVM QEMU, domain 3's PV one (vfb), and a
    # KVM QEMU that is no Xen device model.
    user(root, 2000, "qemu-system-i386", [QEMU, "-xen-domid", "12", "-no-shutdown", "-chardev",
         "socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-12,server=on,wait=off", "-mon",
         "chardev=libxl-cmd,mode=control", "-xen-domid-restrict", "-name", "db", "-machine", "xenfv"],
         threads=[(2001, "call_rcu"), (2002, "qemu-system-i386")])
    user(root, 2100, "qemu-system-i386", [QEMU, "-xen-domid", "3", "-no-shutdown", "-xen-attach",
         "-name", "web", "-machine", "xenpv"], threads=[(2101, "call_rcu")])
    user(root, 2200, "qemu-system-x86_64", ["/usr/bin/qemu-system-x86_64", "-name", "guest=kvm1",
         "-accel", "kvm"], threads=[(2201, "CPU 0/KVM")])
    if cut:
        # A domain whose netback names lose their kind: both kthreads of
        # vif12345.10-q10 are "vif12345.10-q10".
        kthread(root, 530, "vif12345.10-q10-guest-rx", cut)
        kthread(root, 531, "vif12345.10-q10-dealloc", cut)

if __name__ == "__main__":
    tree("proc-6.1", cut=False)
    tree("proc-5.10", cut=True)
