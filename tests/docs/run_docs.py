#!/usr/bin/env python3
"""tests/docs/run_docs.py — keeps the user documentation and the editor type definitions honest.

    WISP_BIN=build/wisp python3 tests/docs/run_docs.py [-v] [DOC.md ...]

Checks, each counted as one test:
  examples   Every fenced block of docs/getting-started.md and docs/api/*.md whose info string
             says `run` is executed; the rest of each page's ```lua blocks are compiled (load()
             inside wisp) so that no fragment has a syntax error. Info-string words:
               ```lua run            run the block with `wisp exec` (a file of its own)
               ```lua run ws         ... with the WebSocket echo peer listening (see below)
               ```lua run exit=1     ... and expect that exit status (default 0)
               ```lua file=NAME      write the block to NAME in the page's work directory
                                     (with `run`: write it there, then run it)
               ```yaml file=NAME     (any language) write the block to NAME
               ```python peer file=NAME   the WebSocket echo server the guide has the reader
                                     start; the driver starts the same file as the peer
               ```sh run             run the block with bash (-e, pipefail) in the work directory, with a
                                     `wisp` on PATH (exit=N as above)
               ```text output        the expected output (stdout and stderr) of the run block
                                     just before it: `...` alone on a line matches any lines,
                                     `...` inside a line any text
             Each page gets one work directory; its blocks run in order. `wisp` there is the
             binary under test with `--log-format text` first, which is what a reader sees on
             a terminal. The guide's URL ws://127.0.0.1:8765 is rewritten to the peer's port.
             Without /usr/bin/python3 and its websockets module the `ws` blocks are skipped,
             and the output says so.
  types      types/*.lua (lua-language-server ---@meta files) against the runtime, both ways:
             every declared function, constant and method exists in the runtime with the
             declared kind and value, and every name the runtime exposes is declared. Module
             tables and the method tables of live objects (Channel, Time, Duration, Timer,
             Ticker, Error, Logger, Message, Payload, websocket.Client) are walked inside wisp;
             tables that fill themselves lazily (`process`) are enumerated from their luaL_Reg
             array in stdlib/*.c, and so is websocket.Client's method table when no echo peer
             can run; the sandbox's globals come from stdlib/init.c. Also: each
             meta file compiles, every @param names a parameter and every parameter has one,
             and every type named in an annotation is declared or built in.
  coverage   Each docs/api/<module>.md page has a heading for every declared function and
             method (`### ch:send(value)`), each such section has a ```lua example, and every
             declared constant is mentioned.
  links      Relative links (and #anchors) of the pages above resolve.
Ends with "docs: N passed, N failed"; exits 1 on any failure.
"""
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEER_PY = "/usr/bin/python3"  # Debian's python3 with python3-websockets
GUIDE_URL_HOSTPORT = "127.0.0.1:8765"
BLOCK_TIMEOUT = 60
VERBOSE = False

# Lua's own coroutine functions: the language server documents them; types/coroutine.lua
# declares only what Wisp adds.
LUA_COROUTINE = {"create", "resume", "yield", "wrap", "status", "running", "isyieldable", "close"}
BUILTIN_TYPES = {
    "any", "nil", "boolean", "string", "number", "integer", "function", "table", "thread",
    "userdata", "lightuserdata", "unknown", "true", "false", "self", "fun", "async",
}
# How the runtime check gets a live object of each class (Lua expressions; `T` = time module).
CLASS_MAKERS = {
    "Channel": "channel.new()",
    "Time": "T.now()",
    "Duration": "T.parse_duration('1s')",
    "Timer": "keep(T.timer('1h'))",
    "Ticker": "keep(T.ticker('1h'))",
    "Error": "errors.new('x')",
    "Logger": "require('logger'):named('x')",
    "Message": "self_message()",
    "Payload": "self_message():payload()",
    "websocket.Client": "ws_client()",
}


class Result:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, name, detail=""):
        self.passed += 1
        print(f"ok   {name}" + (f" ({detail})" if detail else ""))

    def fail(self, name, problems, log=""):
        self.failed += 1
        print(f"FAIL {name}")
        for p in problems:
            print(f"     - {p}")
        for line in log.splitlines()[-30:]:
            print(f"     | {line}")

    def skip(self, name, why):
        self.skipped += 1
        print(f"skip {name}: {why}")


# ---------------------------------------------------------------------------------------------
# Markdown blocks

FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


def parse_blocks(path):
    """Yields dicts: lang, words (set), opts (dict), text, line."""
    blocks = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group(1), m.group(2), m.group(3).strip()
        start = i + 1
        body = []
        i += 1
        while i < len(lines):
            m2 = re.match(r"^\s*" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$", lines[i])
            if m2:
                break
            line = lines[i]
            if indent and line.startswith(indent):
                line = line[len(indent):]
            body.append(line)
            i += 1
        i += 1
        parts = info.split()
        lang = parts[0] if parts else ""
        words, opts = set(), {}
        for w in parts[1:]:
            if "=" in w:
                k, v = w.split("=", 1)
                opts[k] = v
            else:
                words.add(w)
        blocks.append({"lang": lang, "words": words, "opts": opts, "text": "\n".join(body) + "\n",
                       "line": start})
    return blocks


def output_matches(expected, actual):
    """Line-wise match: a line `...` matches any lines, `...` inside a line any text; trailing
    blanks and final empty lines are ignored."""
    exp = [l.rstrip() for l in expected.rstrip("\n").split("\n")]
    act = [l.rstrip() for l in actual.rstrip("\n").split("\n")] if actual.strip() else []
    pats = [None if l == "..." else re.compile(".*".join(re.escape(p) for p in l.split("...")) + r"\Z")
            for l in exp]
    # ok[j]: the patterns matched so far can end right before actual line j
    ok = [True] + [False] * len(act)
    for pat in pats:
        nxt = [False] * (len(act) + 1)
        for j in range(len(act) + 1):
            if pat is None:
                nxt[j] = ok[j] or (j > 0 and nxt[j - 1])
            else:
                nxt[j] = j > 0 and ok[j - 1] and bool(pat.match(act[j - 1]))
        ok = nxt
    return ok[len(act)]


# ---------------------------------------------------------------------------------------------
# The WebSocket echo peer (the guide's own echo server)

class Peer:
    def __init__(self, script):
        self.script, self.proc, self.port, self.error = script, None, None, None

    def start(self):
        if self.proc or self.error:
            return self.port
        if not self.script:
            self.error = "no ```python peer block found in docs/getting-started.md"
            return None
        if not os.path.exists(PEER_PY):
            self.error = f"{PEER_PY} is missing"
            return None
        probe = subprocess.run([PEER_PY, "-c", "import websockets"], capture_output=True)
        if probe.returncode != 0:
            self.error = f"{PEER_PY} has no websockets module (Debian package python3-websockets)"
            return None
        self.dir = tempfile.mkdtemp(prefix="wisp-docs-peer-")
        path = os.path.join(self.dir, "echo.py")
        with open(path, "w") as f:
            f.write(self.script)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.log = open(os.path.join(self.dir, "peer.log"), "wb")
        self.proc = subprocess.Popen([PEER_PY, path, str(port)], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                self.port = port
                return port
            except OSError:
                time.sleep(0.05)
        self.error = "the echo peer did not start: " + open(os.path.join(self.dir, "peer.log")).read()[-500:]
        self.stop()
        return None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if getattr(self, "dir", None):
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


# ---------------------------------------------------------------------------------------------
# Running a page

class Session:
    """One page: a work directory, a `wisp` wrapper on PATH."""

    def __init__(self, wisp, peer):
        self.dir = tempfile.mkdtemp(prefix="wisp-docs-")
        self.bin = os.path.join(self.dir, ".bin")
        os.mkdir(self.bin)
        wrapper = os.path.join(self.bin, "wisp")
        with open(wrapper, "w") as f:
            f.write('#!/bin/sh\n# a terminal-like wisp: text logs, as a reader sees them\n'
                    f'exec "{os.path.abspath(wisp)}" --log-format text "$@"\n')
        os.chmod(wrapper, 0o755)
        self.env = dict(os.environ, PATH=self.bin + os.pathsep + os.environ.get("PATH", ""))
        self.peer = peer
        self.counter = 0

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def rewrite(self, text):
        if self.peer.port:
            text = text.replace(GUIDE_URL_HOSTPORT, f"127.0.0.1:{self.peer.port}")
        return text

    def write(self, name, text):
        path = os.path.normpath(os.path.join(self.dir, name))
        if not path.startswith(self.dir + os.sep):
            raise ValueError(f"file={name} leaves the work directory")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def run(self, argv):
        try:
            p = subprocess.run(argv, cwd=self.dir, env=self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=BLOCK_TIMEOUT,
                               start_new_session=True)
            return p.returncode, p.stdout.decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            return "timeout", (e.stdout or b"").decode(errors="replace")


def run_page(doc, wisp, peer, res, fragments):
    rel = os.path.relpath(doc, ROOT)
    blocks = parse_blocks(doc)
    sess = Session(wisp, peer)
    try:
        i = 0
        while i < len(blocks):
            b = blocks[i]
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            expect_out = nxt if nxt and nxt["lang"] == "text" and "output" in nxt["words"] else None
            name = f"{rel}:{b['line']} ({b['lang']}{' ' + ' '.join(sorted(b['words'])) if b['words'] else ''})"
            if "run" not in b["words"]:
                if "file" in b["opts"]:
                    sess.write(b["opts"]["file"], sess.rewrite(b["text"]) if "peer" not in b["words"] else b["text"])
                if b["lang"] == "lua":
                    fragments.append((f"{rel}:{b['line']}", b["text"]))
                elif b["lang"] == "json":
                    try:
                        json.loads(b["text"])
                        res.ok(f"{rel}:{b['line']} (json parses)")
                    except ValueError as e:
                        res.fail(f"{rel}:{b['line']} (json parses)", [str(e)])
                i += 1
                continue
            if "ws" in b["words"] and not peer.start():
                res.skip(name, "needs the WebSocket echo peer: " + peer.error)
                i += 2 if expect_out else 1
                continue
            want_exit = int(b["opts"].get("exit", "0"))
            text = sess.rewrite(b["text"])
            if b["lang"] == "lua":
                sess.counter += 1
                fname = b["opts"].get("file", f"example_{sess.counter}.lua")
                sess.write(fname, text)
                code, out = sess.run(["wisp", "exec", fname])
            elif b["lang"] in ("sh", "bash", "console"):
                script = sess.write(f".block_{b['line']}.sh", "set -eo pipefail\n" + text)
                code, out = sess.run(["bash", script])
            else:
                res.fail(name, [f"cannot run a {b['lang']!r} block"])
                i += 1
                continue
            problems = []
            if code != want_exit:
                problems.append(f"exit status {code}, expected {want_exit}")
            if expect_out and not output_matches(sess.rewrite(expect_out["text"]), out):
                problems.append(f"output differs from the ```text output block at line {expect_out['line']}")
                out = "--- expected:\n" + expect_out["text"] + "--- got:\n" + out
            if "AddressSanitizer" in out or "runtime error:" in out or "LeakSanitizer" in out:
                problems.append("sanitizer report")
            if problems:
                res.fail(name, problems, out)
            else:
                res.ok(name)
                if VERBOSE:
                    for line in out.splitlines():
                        print("     | " + line)
            i += 2 if expect_out else 1
    finally:
        sess.close()
    return blocks


# ---------------------------------------------------------------------------------------------
# types/*.lua

class Decl:
    def __init__(self, kind, value=None, typ=None, line=0, params=None):
        self.kind, self.value, self.typ, self.line, self.params = kind, value, typ, line, params


class Meta:
    """What one ---@meta file declares."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.splitext(os.path.basename(path))[0]
        self.tables = {}      # dotted path -> {name: Decl}   (module tables and their sub-tables)
        self.classes = {}     # class name -> {method: Decl}
        self.globals = set()  # global tables this file creates or extends
        self.module = None    # the table `return`ed (require-able module), or None
        self.declared_types = set()
        self.problems = []
        self.functions = []   # (qualified name, params, annotation lines, line)
        self.annotations = []  # (line no, text)
        self._parse()

    def _parse(self):
        with open(self.path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if not lines or lines[0].strip() != "---@meta":
            self.problems.append("the first line must be ---@meta")
        local_class = {}  # local variable -> class name
        pending = []      # annotation lines before the next statement
        const_table = None
        for no, raw in enumerate(lines, 1):
            line = raw.rstrip()
            s = line.strip()
            if const_table is not None:
                if s == "}":
                    const_table = None
                    continue
                m = re.match(r"^([A-Za-z_]\w*)\s*=\s*(.+?),?$", s)
                if not m:
                    self.problems.append(f"line {no}: not a constant in a constant table: {s}")
                    continue
                const_table[m.group(1)] = Decl("value", self._literal(m.group(2), no), line=no)
                continue
            if s.startswith("---"):
                pending.append((no, s))
                self.annotations.append((no, s))
                m = re.match(r"^---@(class|alias)\s+([A-Za-z_][\w.]*)", s)
                if m:
                    self.declared_types.add(m.group(2))
                continue
            if not s:
                pending = []  # annotations bind to the statement right below them
                continue
            if s.startswith("--"):
                continue
            m = re.match(r"^(local\s+)?([A-Za-z_]\w*)\s*=\s*\{\}$", s)
            if m:
                var = m.group(2)
                cls = [re.match(r"^---@class\s+([A-Za-z_][\w.]*)", t).group(1) for _, t in pending
                       if t.startswith("---@class")]
                if m.group(1):
                    local_class[var] = cls[-1] if cls else None
                    # `---@class <name>lib` names a module's table (as the language server's
                    # own definitions do: oslib, stringlib); other classes are object types
                    if cls and not cls[-1].endswith("lib"):
                        self.classes.setdefault(cls[-1], {})
                    self.tables.setdefault("@" + var, {})
                else:
                    self.globals.add(var)
                    self.tables.setdefault(var, {})
                pending = []
                continue
            m = re.match(r"^function\s+([A-Za-z_][\w.]*)([.:])([A-Za-z_]\w*)\s*\(([^)]*)\)\s*end$", s)
            if m:
                owner, sep, fname, params = m.group(1), m.group(2), m.group(3), m.group(4)
                plist = [p.strip() for p in params.split(",") if p.strip()]
                decl = Decl("function", line=no, params=plist)
                if sep == ":":
                    cls = local_class.get(owner)
                    if cls is None or owner not in local_class:
                        self.problems.append(f"line {no}: method of {owner}, which is not a local ---@class table")
                    else:
                        self.classes.setdefault(cls, {})[fname] = decl
                        # a module that is itself a class (logger): its methods are its fields
                        self.tables.setdefault("@" + owner, {})[fname] = decl
                else:
                    if owner.split(".")[0] not in local_class:
                        self.globals.add(owner.split(".")[0])
                    self._table_of(owner, no)[fname] = decl
                self.functions.append((owner + sep + fname, plist, pending, no))
                pending = []
                continue
            m = re.match(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\.([A-Za-z_]\w*)\s*=\s*(.+)$", s)
            if m:
                owner, fname, rhs = m.group(1), m.group(2), m.group(3)
                typ = None
                for _, t in pending:
                    mt = re.match(r"^---@type\s+(\S+)", t)
                    if mt:
                        typ = mt.group(1)
                tbl = self._table_of(owner, no)
                if rhs == "{}":
                    tbl[fname] = Decl("table", line=no)
                    self.tables.setdefault(self._key(owner) + "." + fname, {})
                elif rhs == "{":
                    tbl[fname] = Decl("table", line=no)
                    const_table = self.tables.setdefault(self._key(owner) + "." + fname, {})
                    const_table["__constants__"] = Decl("marker")
                else:
                    tbl[fname] = Decl("value", self._literal(rhs, no), typ, line=no)
                pending = []
                continue
            m = re.match(r"^return\s+([A-Za-z_]\w*)$", s)
            if m:
                self.module = m.group(1)
                continue
            self.problems.append(f"line {no}: statement the checker does not understand: {s}")

    def _key(self, owner):
        head, _, rest = owner.partition(".")
        if ("@" + head) in self.tables:
            head = "@" + head
        return head + ("." + rest if rest else "")

    def _table_of(self, owner, no):
        key = self._key(owner)
        return self.tables.setdefault(key, {})

    def _literal(self, text, no):
        text = text.strip()
        if text == "nil":
            return None
        if re.match(r"^-?\d+$", text):
            return int(text)
        if re.match(r'^"(?:[^"\\]|\\.)*"$', text):
            return json.loads(text)
        self.problems.append(f"line {no}: constant value the checker cannot read: {text}")
        return None

    def resolved(self):
        """{runtime path: {name: Decl}}: '@var' tables renamed to the module name (the file's
        returned table) and global tables kept by name."""
        out = {}
        for key, members in self.tables.items():
            head, _, rest = key.partition(".")
            if head.startswith("@"):
                var = head[1:]
                if var != self.module:
                    continue  # a class table; its methods are in self.classes
                head = self.name
            out[head + ("." + rest if rest else "")] = {k: v for k, v in members.items() if k != "__constants__"}
        return out


def type_names(expr):
    """Identifiers naming types in an annotation's type expression."""
    expr = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", " ", expr)
    names = []
    for m in re.finditer(r"[A-Za-z_][\w.]*", expr):
        rest = expr[m.end():]
        if re.match(r"\s*\??\s*:", rest) and not re.match(r"\s*\??\s*::", rest):
            continue  # a field or parameter name: `name: type`, `name?: type`
        names.append(m.group(0))
    return names


def first_type(text):
    """The type expression at the start of text (up to the first blank outside brackets and
    quotes); the rest is the description."""
    depth, quote = 0, None
    for i, c in enumerate(text):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"`":
            quote = c
        elif c in "({[<":
            depth += 1
        elif c in ")}]>":
            depth -= 1
        elif c.isspace() and depth == 0:
            if text[:i].rstrip().endswith(("|", ",", ":")) or text[i:].lstrip().startswith(("|", ":")):
                continue
            return text[:i]
    return text


def check_annotations(metas, res):
    known = set(BUILTIN_TYPES)
    for m in metas:
        known |= m.declared_types
    for m in metas:
        name = f"types/{os.path.basename(m.path)}: annotations"
        problems = list(m.problems)
        for qual, params, ann, no in m.functions:
            documented = []
            for _, t in ann:
                mp = re.match(r"^---@param\s+(\.\.\.|[A-Za-z_]\w*)\??\s+(.*)$", t)
                if mp:
                    documented.append(mp.group(1))
            if documented != params:
                problems.append(f"line {no}: {qual}({', '.join(params)}) has ---@param for ({', '.join(documented)})")
            if not any(t.startswith("---") and not t.startswith("---@") for _, t in ann):
                problems.append(f"line {no}: {qual} has no description")
        for no, t in m.annotations:
            mt = re.match(r"^---@(param|return|field|type|alias|operator|overload|class)\s+(.*)$", t)
            if not mt:
                continue
            tag, rest = mt.group(1), mt.group(2)
            if tag in ("param", "field", "return"):
                if tag != "return":
                    rest = re.sub(r"^(\.\.\.|[A-Za-z_]\w*)\??\s+", "", rest)
                rest = re.sub(r"^async\s+", "", rest)
                expr = first_type(rest)
            elif tag == "class":
                expr = rest.split(":", 1)[1] if ":" in rest else ""
            elif tag == "alias":
                parts = rest.split(None, 1)
                expr = parts[1] if len(parts) > 1 else ""
            elif tag == "operator":
                expr = re.sub(r"^\w+", "", rest)
            else:
                expr = rest
            for n in type_names(expr):
                if n not in known:
                    problems.append(f"line {no}: unknown type {n!r} in: {t}")
        if problems:
            res.fail(name, problems)
        else:
            res.ok(name, f"{len(m.functions)} functions")


def lua_str(s):
    eq = "="
    while f"]{eq}]" in s:
        eq += "="
    return f"[{eq}[\n{s}]{eq}]"


def lua_value(v):
    if v is None:
        return "nil"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return lua_str(v) if "\n" in v else json.dumps(v)


def luaopen_body(module):
    for path in sorted(glob.glob(os.path.join(ROOT, "stdlib", "*.c"))):
        src = open(path, encoding="utf-8").read()
        m = re.search(r"int\s+luaopen_wisp_" + re.escape(module) + r"\s*\(lua_State \*L\)\s*\{(.*?)\n\}", src, re.S)
        if m:
            return m.group(1)
    return None


def reg_array_names(module, array):
    """Names in the luaL_Reg array `array` declared inside luaopen_wisp_<module> ("=name"
    entries are lazily built fields)."""
    body = luaopen_body(module)
    reg = body and re.search(r"luaL_Reg\s+" + re.escape(array) + r"\[\]\s*=\s*\{(.*?)\};", body, re.S)
    if not reg:
        return None
    return re.findall(r'\{\s*"=?([A-Za-z_]\w*)"', reg.group(1)) or None


def lazy_names(module):
    """Names of the luaL_Reg array that luaopen_wisp_<module> hands to sandbox_lazy_lib."""
    body = luaopen_body(module)
    arr = body and re.search(r"sandbox_lazy_lib\(L,\s*(\w+)\)", body)
    return reg_array_names(module, arr.group(1)) if arr else None


def sandbox_modules():
    """{name: global?} from stdlib/init.c's sandbox_register calls."""
    src = open(os.path.join(ROOT, "stdlib", "init.c"), encoding="utf-8").read()
    return {n: g == "true" for n, g in re.findall(r'sandbox_register\("(\w+)",\s*\w+,\s*(true|false)\)', src)}


def build_check_script(metas, fragments, ws_url):
    out = ["-- generated by tests/docs/run_docs.py", "local T = require('time')", "local kept = {}",
           "local function keep(x) kept[#kept + 1] = x; return x end",
           "local function self_message()",
           "  assert(process.send(process.pid(), 'docs.check', 1))",
           "  return (process.inbox():receive())", "end",
           f"local WS_URL = {lua_value(ws_url)}",
           "local ws_conn",
           "local function ws_client()",
           "  if not WS_URL then return nil end",
           "  ws_conn = ws_conn or assert(require('websocket').connect(WS_URL))",
           "  return ws_conn", "end",
           "local function say(...) print(table.concat({...}, ' ')) end",
           "local STD_CO = {" + ", ".join(f"{n} = true" for n in sorted(LUA_COROUTINE)) + "}",
           "local function check_members(label, t, decls, lazy, skip)",
           "  for name, d in pairs(decls) do",
           "    local v = t[name]",
           "    if v == nil then say('MISSING', label .. '.' .. name)",
           "    elseif d.kind == 'function' and type(v) ~= 'function' then say('KIND', label .. '.' .. name, 'is a', type(v), 'not a function')",
           "    elseif d.kind == 'table' and type(v) ~= 'table' then say('KIND', label .. '.' .. name, 'is a', type(v), 'not a table')",
           "    elseif d.kind == 'value' and d.value ~= nil and v ~= d.value then say('VALUE', label .. '.' .. name, 'is', tostring(v), 'declared', tostring(d.value))",
           "    elseif d.kind == 'value' and d.value == nil and d.typ and type(v) ~= (d.typ == 'lightuserdata' and 'userdata' or d.typ) then say('KIND', label .. '.' .. name, 'is a', type(v), 'declared', d.typ)",
           "    end",
           "  end",
           "  local mt = getmetatable(t)",
           "  if type(mt) == 'table' and type(mt.__index) == 'function' then say('LAZY', label) end",
           "  for k in pairs(t) do",
           "    if decls[k] == nil and not (skip and skip[k]) then say('UNDECLARED', label .. '.' .. tostring(k)) end",
           "  end",
           "  say('CHECKED', label)",
           "end"]
    mods = sandbox_modules()
    for m in metas:
        for path, members in sorted(m.resolved().items()):
            head = path.split(".")[0]
            decls = "{" + ", ".join(
                f"[{json.dumps(k)}] = {{kind = {json.dumps(d.kind)}, value = {lua_value(d.value)}, typ = {lua_value(d.typ)}}}"
                for k, d in sorted(members.items())) + "}"
            if head in mods and not mods[head]:
                getter = f"require({json.dumps(head)})"
            else:
                getter = f"_G[{json.dumps(head)}]"
            expr = getter + "".join(f"[{json.dumps(p)}]" for p in path.split(".")[1:])
            skip = "STD_CO" if path == "coroutine" else "nil"
            out.append(f"do local t = {expr}; if type(t) ~= 'table' then say('MISSING', {json.dumps(path)}) "
                       f"else check_members({json.dumps(path)}, t, {decls}, false, {skip}) end end")
        for cls, members in sorted(m.classes.items()):
            maker = CLASS_MAKERS.get(cls)
            if maker is None:
                out.append(f"say('NOMAKER', {json.dumps(cls)})")
                continue
            decls = "{" + ", ".join(f"[{json.dumps(k)}] = {{kind = 'function'}}" for k in sorted(members)) + "}"
            out.append(f"do local obj = {maker}; if obj == nil then say('NOOBJECT', {json.dumps(cls)}) else "
                       f"local mt = getmetatable(obj); local idx = type(mt) == 'table' and mt.__index; "
                       f"if type(idx) ~= 'table' then say('NOINDEX', {json.dumps(cls)}) else "
                       f"check_members({json.dumps('class:' + cls)}, idx, {decls}) end end end")
    for m in metas:
        src = open(m.path, encoding="utf-8").read()
        out.append(f"do local f, e = load({lua_str(src)}, {json.dumps('=' + os.path.relpath(m.path, ROOT))}, 't', {{}}); "
                   f"if not f then say('SYNTAX', e) else say('COMPILED', {json.dumps(os.path.relpath(m.path, ROOT))}) end end")
    for where, text in fragments:
        out.append(f"do local f, e = load({lua_str(text)}, {json.dumps('=' + where)}, 't', {{}}); "
                   f"if not f then say('FRAGMENT', e) else say('FRAGMENT_OK', {json.dumps(where)}) end end")
    out.append("for _, x in ipairs(kept) do x:stop() end")
    out.append("if ws_conn then ws_conn:close() end")
    return "\n".join(out) + "\n"


def check_types(metas, fragments, wisp, peer, res):
    ws_url = None
    has_client = any("websocket.Client" in m.classes for m in metas)
    if has_client and peer.start():
        ws_url = f"ws://127.0.0.1:{peer.port}/"
    script = build_check_script(metas, fragments, ws_url)
    tmp = tempfile.mkdtemp(prefix="wisp-docs-types-")
    try:
        path = os.path.join(tmp, "check_types.lua")
        with open(path, "w", encoding="utf-8") as f:
            f.write(script)
        try:
            p = subprocess.run([wisp, "--log-format", "text", "exec", path], capture_output=True, timeout=120)
            code, out = p.returncode, (p.stdout + p.stderr).decode(errors="replace")
        except subprocess.TimeoutExpired as e:
            code, out = "timeout", ((e.stdout or b"") + (e.stderr or b"")).decode(errors="replace")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    by_label = {}
    for line in out.splitlines():
        kind, _, rest = line.partition(" ")
        by_label.setdefault(kind, []).append(rest)
    if code != 0:
        res.fail("types: the runtime check script", [f"wisp exited {code}"], out)
        return
    # one test per module path / class; labels are "path.name" or "class:Name.method"
    checked = by_label.get("CHECKED", [])
    issues = {}
    for kind in ("MISSING", "KIND", "VALUE", "UNDECLARED"):
        for rest in by_label.get(kind, []):
            label = rest.split(" ")[0]
            owner = label.rsplit(".", 1)[0] if "." in label else label
            issues.setdefault(owner, []).append(f"{kind.lower()}: {rest}")
    lazy = set(by_label.get("LAZY", []))
    for m in metas:
        for path, members in sorted(m.resolved().items()):
            probs = [p for p in issues.get(path, [])]
            if path not in checked and not probs:
                probs.append("not checked (the module table is missing?)")
            detail = f"{len(members)} names"
            if path in lazy:
                names = lazy_names(path)
                if names is None:
                    probs.append(f"{path} fills itself lazily and its luaL_Reg array was not found in stdlib/*.c")
                else:
                    for n in names:
                        if n not in members:
                            probs.append(f"undeclared: {path}.{n} (from the luaL_Reg array in stdlib/)")
                    detail += f"; lazily filled, {len(names)} names from stdlib/*.c"
            name = f"types: {path} (types/{os.path.basename(m.path)})"
            res.fail(name, probs) if probs else res.ok(name, detail)
        for cls, members in sorted(m.classes.items()):
            name = f"types: class {cls} (types/{os.path.basename(m.path)})"
            if cls in by_label.get("NOOBJECT", []):
                # no live client without the peer: read the method table from the C source
                names = reg_array_names("websocket", "methods") if cls == "websocket.Client" else None
                if names is None:
                    res.skip(name, "no live object (the WebSocket echo peer is not available: "
                             + (peer.error or "?") + ")")
                    continue
                probs = [f"undeclared: {cls}:{n} (from stdlib/websocket.c)" for n in names if n not in members]
                probs += [f"missing: {cls}:{n} (not in stdlib/websocket.c)" for n in members if n not in names]
                res.fail(name, probs) if probs else \
                    res.ok(name, f"{len(members)} methods, from stdlib/websocket.c: no echo peer ({peer.error})")
                continue
            probs = list(issues.get("class:" + cls, []))
            if "class:" + cls not in checked and not probs and cls not in by_label.get("NOMAKER", []) \
                    and cls not in by_label.get("NOINDEX", []):
                probs.append("not checked")
            if cls in by_label.get("NOMAKER", []):
                probs.append("tests/docs/run_docs.py has no CLASS_MAKERS entry for it")
            if cls in by_label.get("NOINDEX", []):
                probs.append("its objects have no __index method table")
            res.fail(name, probs) if probs else res.ok(name, f"{len(members)} methods")
    # every sandbox module has a types file declaring it
    declared_paths = {p for m in metas for p in m.resolved()}
    mods = sandbox_modules()
    probs = [f"stdlib/init.c registers {n!r} but no types/*.lua declares it"
             for n in sorted(mods) if n not in declared_paths]
    probs += [f"types declare global {g!r}, which stdlib/init.c does not register as a global"
              for m in metas for g in sorted(m.globals)
              if g not in ("os", "debug") and not mods.get(g, False)]
    probs += [f"types declare module {m.name!r} as required, but stdlib/init.c registers it as a global"
              for m in metas if m.module and m.module not in m.globals and mods.get(m.name) is True]
    if not mods:
        probs.append("no sandbox_register calls found in stdlib/init.c")
    res.fail("types: every runtime module has a definition file", probs) if probs else \
        res.ok("types: every runtime module has a definition file", f"{len(mods)} modules")
    comp = by_label.get("SYNTAX", [])
    res.fail("types: every definition file compiles", comp) if comp else \
        res.ok("types: every definition file compiles", f"{len(by_label.get('COMPILED', []))} files")
    bad = by_label.get("FRAGMENT", [])
    res.fail("docs: every lua fragment compiles", bad) if bad else \
        res.ok("docs: every lua fragment compiles", f"{len(by_label.get('FRAGMENT_OK', []))} fragments")


# ---------------------------------------------------------------------------------------------
# coverage and links

def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def headings(path):
    out, seen = [], {}
    in_fence = False
    for line in open(path, encoding="utf-8"):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.append((len(m.group(1)), m.group(2), base if n == 0 else f"{base}-{n}"))
    return out


def check_coverage(metas, res):
    pages = {os.path.splitext(os.path.basename(p))[0] for p in glob.glob(os.path.join(ROOT, "docs", "api", "*.md"))}
    orphans = sorted(pages - {m.name for m in metas} - {"README"})
    if orphans:
        res.fail("coverage: every API page has a definition file",
                 [f"docs/api/{p}.md has no types/{p}.lua" for p in orphans])
    for m in metas:
        page = os.path.join(ROOT, "docs", "api", ("README" if m.name == "sandbox" else m.name) + ".md")
        name = f"coverage: docs/api/{os.path.basename(page)} documents types/{os.path.basename(m.path)}"
        if not os.path.exists(page):
            res.fail(name, ["the page does not exist"])
            continue
        text = open(page, encoding="utf-8").read()
        heads = [h for _, h, _ in headings(page)]
        probs = []
        funcs, consts = [], []
        for path, members in m.resolved().items():
            for n, d in members.items():
                if d.kind == "function":
                    funcs.append((path, ".", n))
                elif d.kind == "value":
                    consts.append(f"{path}.{n}")
                elif d.kind == "table" and not m.resolved().get(f"{path}.{n}"):
                    consts.append(f"{path}.{n}")
        for cls, members in m.classes.items():
            for n in members:
                funcs.append((cls, ":", n))
        for owner, sep, n in funcs:
            if m.name == "sandbox":
                if f"{owner}.{n}" not in text:
                    probs.append(f"{owner}.{n} is not mentioned")
                continue
            if m.name == "logger" and sep == "." and owner == "logger":
                sep = ":"
            pat = re.compile(re.escape(sep) + re.escape(n) + r"\(")
            if not any(pat.search(h) for h in heads):
                probs.append(f"no heading for {owner}{sep}{n}(...)")
        for c in consts:
            last = c.split(".")[-1]
            if not re.search(r"\b" + re.escape(last) + r"\b", text):
                probs.append(f"constant {c} is not mentioned")
        # each function section has a lua example
        lines = text.split("\n")
        in_fence, section, has_example = False, None, False
        for line in lines + ["## end"]:
            if FENCE.match(line):
                if not in_fence and section and re.match(r"^\s*(`{3,}|~{3,})lua\b", line):
                    has_example = True
                in_fence = not in_fence
                continue
            if in_fence:
                continue
            mh = re.match(r"^(#{2,4})\s+(.*)$", line)
            if mh:
                if section and not has_example:
                    probs.append(f"section {section!r} has no ```lua example")
                section = mh.group(2) if "(" in mh.group(2) and m.name != "sandbox" else None
                has_example = False
        res.fail(name, probs) if probs else res.ok(name, f"{len(funcs)} functions, {len(consts)} constants")


def check_links(docs, res):
    for doc in docs:
        rel = os.path.relpath(doc, ROOT)
        probs = []
        text = open(doc, encoding="utf-8").read()
        text = re.sub(r"(?ms)^(\s*)(`{3,}|~{3,}).*?^\1\2\s*$", "", text)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            path = os.path.normpath(os.path.join(os.path.dirname(doc), file)) if file else doc
            if not os.path.exists(path):
                probs.append(f"link to {target}: {os.path.relpath(path, ROOT)} does not exist")
                continue
            if anchor and path.endswith(".md"):
                if anchor not in {s for _, _, s in headings(path)}:
                    probs.append(f"link to {target}: no heading with anchor #{anchor} in {os.path.relpath(path, ROOT)}")
        res.fail(f"links: {rel}", probs) if probs else res.ok(f"links: {rel}")


# ---------------------------------------------------------------------------------------------

def main():
    global VERBOSE
    args = sys.argv[1:]
    if "-v" in args:
        VERBOSE = True
        args.remove("-v")
    wisp = os.environ.get("WISP_BIN", os.path.join(ROOT, "build", "wisp"))
    if not os.path.isabs(wisp):
        wisp = os.path.abspath(wisp)
    res = Result()
    if not os.access(wisp, os.X_OK):
        res.fail("docs: the wisp binary", [f"{wisp} is not an executable (set WISP_BIN)"])
        print(f"docs: {res.passed} passed, {res.failed} failed")
        return 1
    guide = os.path.join(ROOT, "docs", "getting-started.md")
    docs = [os.path.abspath(a) for a in args] or ([guide] + sorted(glob.glob(os.path.join(ROOT, "docs", "api", "*.md"))))
    peer_script = None
    if os.path.exists(guide):
        for b in parse_blocks(guide):
            if "peer" in b["words"]:
                peer_script = b["text"]
    peer = Peer(peer_script)
    fragments = []
    try:
        for doc in docs:
            if not os.path.exists(doc):
                res.fail(f"examples: {os.path.relpath(doc, ROOT)}", ["the page does not exist"])
                continue
            run_page(doc, wisp, peer, res, fragments)
        if not args:
            metas = [Meta(p) for p in sorted(glob.glob(os.path.join(ROOT, "types", "*.lua")))]
            check_annotations(metas, res)
            check_types(metas, fragments, wisp, peer, res)
            check_coverage(metas, res)
        check_links(docs, res)
    finally:
        peer.stop()
    if res.skipped:
        print(f"docs: {res.skipped} skipped (see the skip lines above)")
    print(f"docs: {res.passed} passed, {res.failed} failed")
    return 0 if res.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
