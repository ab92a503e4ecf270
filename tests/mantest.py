#!/usr/bin/env python3
"""Man pages (TAP): installed where they belong, one per hapvm command, free of
groff warnings, whatis-parsable, and naming every option --help lists.

usage: mantest.py HAPVM HAPVMD MD2MAN MESON BUILD_ROOT PREFIX MANDIR DATADIR DOCS_SRC

The pages are installed with `meson install --destdir` (tags man and
bash-completion) into a temporary directory and checked there.
tests/data/man/sample.md against sample.7 checks the converter itself
(HAPVM_TEST_REGENERATE=1 rewrites sample.7).
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

(hapvm, hapvmd, md2man, meson, build_root, prefix, mandir, datadir, docs_src) = sys.argv[1:10]
srcdir = os.environ.get('G_TEST_SRCDIR', os.path.dirname(os.path.abspath(__file__)))
n = 0
failed = 0


def ok(cond, desc, diag=''):
    global n, failed
    n += 1
    print('%s %d - %s' % ('ok' if cond else 'not ok', n, desc))
    if not cond:
        failed += 1
        for d in str(diag).splitlines():
            print('# ' + d)
    sys.stdout.flush()
    return cond


def run(cmd, **kw):
    env = dict(os.environ, LC_ALL='C.UTF-8', MANWIDTH='80')
    return subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)


def commands():
    """The dispatch table, as `hapvm --help` prints it."""
    out = run([hapvm, '--help']).stdout
    return re.findall(r'^  (\S+) ', out.split('commands:', 1)[1], re.M)


def help_options(argv):
    """[(short or None, long)] from a GOption --help (Application Options)."""
    out = run(argv + ['--help']).stdout
    if 'Application Options:' not in out:
        return None
    opts = []
    for m in re.finditer(r'^\s+(?:-(\w), )?--([\w-]+)', out.split('Application Options:', 1)[1], re.M):
        opts.append((m.group(1), m.group(2)))
    return opts


def render(page, width='80n'):
    r = run(['groff', '-t', '-man', '-Tutf8', '-P-cbou', '-rLL=' + width, '-rHY=0', page])
    return r.stdout.replace('\u2010', '-').replace('\u2212', '-')


tmp = tempfile.mkdtemp(prefix='hapvm-mantest-')
try:
    dest = os.path.join(tmp, 'dest')
    r = run([meson, 'install', '-C', build_root, '--no-rebuild', '--destdir', dest,
             '--tags', 'man,bash-completion,doc'])
    ok(r.returncode == 0, 'meson install --destdir --tags man,bash-completion,doc', r.stdout + r.stderr)
    man = dest + os.path.join(prefix, mandir)
    page_of = {}

    cmds = commands()
    ok(len(cmds) >= 12, 'hapvm --help lists the commands (%d)' % len(cmds), cmds)
    for c in cmds:
        p = os.path.join(man, 'man1', 'hapvm-%s.1' % c)
        if ok(os.path.isfile(p), 'command %s has a man page (man1/hapvm-%s.1)' % (c, c)):
            page_of[c] = p

    # hapvm(1) lists exactly the commands of the dispatch table.
    top = os.path.join(man, 'man1', 'hapvm.1')
    text = render(top, '200n') if os.path.isfile(top) else ''
    sect = re.search(r'^COMMANDS\n(.*?)^\S', text, re.M | re.S)
    listed = re.findall(r'^ {7}(\S+)', sect.group(1), re.M) if sect else []
    ok(sorted(listed) == sorted(cmds), 'hapvm(1) COMMANDS lists every command and no other',
       'listed: %s\ncommands: %s' % (listed, cmds))

    for p in ('man8/hapvmd.8', 'man8/hapvm-hook.8'):
        ok(os.path.isfile(os.path.join(man, p)), 'installed ' + p)

    # Every page with a "# name(N)" title in docs/ is installed as manN/name.N.
    for md in sorted(glob.glob(os.path.join(docs_src, '*.md'))):
        with open(md, encoding='utf-8') as f:
            m = re.match(r'#\s+(\S+)\((\w+)\)\s*$', f.readline())
        if m:
            p = os.path.join(man, 'man' + m.group(2), '%s.%s' % (m.group(1), m.group(2)))
            ok(os.path.isfile(p), '%s is built and installed as %s' % (os.path.basename(md), p[len(dest):]))

    pages = sorted(glob.glob(os.path.join(man, 'man[18]', '*')))
    have_man = shutil.which('man') is not None
    have_lexgrog = shutil.which('lexgrog') is not None
    for p in pages:
        rel = p[len(man) + 1:]
        r = run(['groff', '-t', '-man', '-Tutf8', '-ww', '-z', p])
        ok(r.returncode == 0 and not r.stderr, '%s: groff -t -man -Tutf8 -ww: no warnings' % rel, r.stderr)
        if have_man:
            r = run(['man', '--warnings', '-l', p])
            ok(r.returncode == 0 and not r.stderr, '%s: man --warnings -l: no warnings' % rel, r.stderr)
        if have_lexgrog:
            # The NAME section as whatis(1) reads it names this page.
            want = os.path.basename(p).rsplit('.', 1)[0]
            r = run(['lexgrog', p])
            names = re.findall(r': "([^ ]+) - ', r.stdout)
            ok(want in names, '%s: NAME section names %s (lexgrog)' % (rel, want), r.stdout + r.stderr)
    ok(have_man and have_lexgrog, 'man and lexgrog are installed (man-db; build-aux/install-deps)')

    # Every option of --help is in the command's page (rendered, on long lines).
    def check_options(label, argv, page):
        opts = help_options(argv)
        if opts is None:
            ok(True, '%s takes no options' % label)
            return
        text = render(page, '2000n')
        missing = []
        for short, long in opts:
            if not re.search(r'(?<![\w-])--%s(?![\w-])' % re.escape(long), text):
                missing.append('--' + long)
            # The short option beside its long one ("-o, --json"): a short
            # option means different things in different commands.
            if short and not re.search(r'(?<![\w-])-%s, --%s(?![\w-])' % (short, re.escape(long)), text):
                missing.append('-%s, --%s' % (short, long))
        ok(opts and not missing, '%s: the page names all %d options of --help' % (label, len(opts)),
           'missing: ' + ' '.join(missing))

    for c in cmds:
        if c in page_of:
            check_options('hapvm ' + c, [hapvm, c], page_of[c])
    check_options('hapvmd', [hapvmd], os.path.join(man, 'man8', 'hapvmd.8'))

    # The pages refer to docs/X.md as installed in docdir: each must be there.
    docdir = os.path.join(prefix, datadir, 'doc', 'hapvm')
    refs = set()
    for p in pages:
        with open(p, encoding='ascii') as f:
            refs.update(re.findall(re.escape(docdir.replace('-', '\\-')) + r'/([A-Za-z0-9_.\\-]+\.md)', f.read()))
    missing = sorted(r for r in refs if not os.path.isfile(dest + os.path.join(docdir, r.replace('\\-', '-'))))
    ok(refs and not missing, 'the %d documents the pages refer to are installed in %s' % (len(refs), docdir),
       'missing: %s' % missing)

    comp = dest + os.path.join(prefix, datadir, 'bash-completion', 'completions', 'hapvm')
    ok(os.path.isfile(comp), 'bash completion installed as %s' % comp[len(dest):])

    # The converter on a sample of everything it handles (golden file).
    golden = os.path.join(srcdir, 'data', 'man', 'sample.7')
    out = os.path.join(tmp, 'sample.7')
    env = dict(os.environ, SOURCE_DATE_EPOCH='0')
    r = subprocess.run([sys.executable, md2man, '--version', '9.9', '--docdir', '/usr/share/doc/hapvm',
                        os.path.join(srcdir, 'data', 'man', 'sample.md'), out],
                       capture_output=True, text=True, env=env)
    ok(r.returncode == 0, 'md2man converts tests/data/man/sample.md', r.stderr)
    if os.environ.get('HAPVM_TEST_REGENERATE') == '1':
        shutil.copy(out, golden)
        print('# regenerated ' + golden)
    with open(out) as a, open(golden) as b:
        got, want = a.read(), b.read()
    diff = run(['diff', '-u', golden, out]).stdout
    ok(got == want, 'md2man output of sample.md matches tests/data/man/sample.7', diff)
    r = run(['groff', '-t', '-man', '-Tutf8', '-ww', '-z', out])
    ok(not r.stderr, 'sample.7 renders without warnings', r.stderr)
    # A page whose title disagrees with the section the build installs it in.
    r = subprocess.run([sys.executable, md2man, '--name', 'sample', '--section', '1',
                        os.path.join(srcdir, 'data', 'man', 'sample.md'), os.path.join(tmp, 'x.1')],
                       capture_output=True, text=True)
    ok(r.returncode != 0 and 'sample(7)' in r.stderr, 'md2man refuses a title of another section', r.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print('1..%d' % n)
sys.exit(1 if failed else 0)
