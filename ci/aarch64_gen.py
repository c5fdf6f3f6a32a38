#!/usr/bin/env python3
"""Turns `bazel cquery --output=jsonproto` into a Makefile for a cross build.

Used by ci/aarch64_test.sh (read that first). Bazel 4.2.3 cannot practically take a cross
toolchain offline, so the build graph comes from Bazel (cquery resolves every select(),
e.g. the context-switch backend) and the compiling is done by make with a cross g++:

  aarch64_gen.py --config NAME:CQUERY_JSON:ROOTS_FILE [--config ...] \
                 --bazelrc .bazelrc --build-dir DIR --cxx CXX --toolchain-id TEXT \
                 --makefile OUT --manifest OUT

For each root (a cc_test or cc_binary label listed in ROOTS_FILE) it walks `deps`
(following aliases) through the cc_library targets of the root's configuration and:
  - compiles every .cc in `srcs` of each workspace rule with
      the `build --copt/--cxxopt` flags of .bazelrc, -DNDEBUG (Bazel's opt mode),
      -D for the rule's `defines` and those of everything it depends on (as Bazel
      propagates them), the rule's `local_defines` and `copts`;
    into DIR/obj/<package>/_objs/<rule>/<flags hash>/<file>.o, so configs share the
    objects whose flags agree;
  - links DIR/<config>/bin/<package>/<rule> -static from the root's closure, with every
    rule's `linkopts` in dependency order (Abseil's and GoogleTest's archive lists come
    from third_party/*.BUILD this way).
The manifest lists one binary a line: config, label, rule class, size, path (tab-separated).
Anything this model does not cover (an external rule with sources, a `data` dependency,
`$(...)` in copts, a source language other than C++, a dependency that is not a cc rule)
stops the generator with a message naming the target: it never silently builds something
different from Bazel.

Flags live in response files (compile: named by their hash; link: rewritten only when
they change); objects depend on theirs, on headers via -MMD and on a toolchain stamp
(compiler and arm64 library versions), so a second run recompiles only what changed.
"""

import argparse
import hashlib
import json
import os
import shlex
import sys

CC_RULES = {"cc_library", "cc_test", "cc_binary"}
CXX_EXTS = (".cc", ".cpp", ".cxx", ".c++", ".C")
HDR_EXTS = (".h", ".hh", ".hpp", ".hxx", ".inc", ".ipp")


def die(msg):
    sys.exit("aarch64_gen.py: " + msg)


def attr_value(attr):
    for key in ("stringListValue", "stringValue", "booleanValue", "intValue"):
        if key in attr:
            return attr[key]
    return None


def load_rules(path):
    """label -> {class, attrs, config} for every rule in the cquery output."""
    with open(path) as f:
        data = json.load(f)
    rules = {}
    for result in data.get("results", []):
        target = result.get("target", {})
        if target.get("type") != "RULE":
            continue
        rule = target["rule"]
        attrs = {a["name"]: attr_value(a) for a in rule.get("attribute", [])}
        cfg = result.get("configuration", {}).get("checksum", "")
        rules.setdefault(rule["name"], []).append(
            {"class": rule["ruleClass"], "attrs": attrs, "config": cfg})
    return rules


def bazelrc_flags(path):
    """The --copt/--cxxopt values of the unconditional `build` lines of .bazelrc."""
    flags = []
    with open(path) as f:
        for line in f:
            words = shlex.split(line, comments=True)
            if not words or words[0] != "build":
                continue
            for w in words[1:]:
                for prefix in ("--copt=", "--cxxopt="):
                    if w.startswith(prefix):
                        flags.append(w[len(prefix):])
    if not any(f.startswith("-std=") for f in flags):
        die(f"{path}: no -std= in the build --copt/--cxxopt lines (parsed {flags})")
    return flags


def label_to_path(label):
    """//pkg:file.cc -> pkg/file.cc (workspace source files only)."""
    if not label.startswith("//"):
        die(f"source {label} is not in this workspace")
    pkg, _, name = label[2:].partition(":")
    return os.path.join(pkg, name) if pkg else name


def write_if_changed(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path) as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w") as f:
        f.write(text)


class Graph:
    def __init__(self, rules, config):
        self.rules = rules
        self.config = config
        self.defines = {}

    def get(self, label):
        entries = self.rules.get(label)
        if not entries:
            die(f"{label} is not in the cquery output")
        for e in entries:
            if e["config"] == self.config:
                return e
        # Alias-like rules and config-free targets may appear without a configuration.
        return entries[0]

    def resolve(self, label):
        """Follows alias chains."""
        seen = set()
        while True:
            e = self.get(label)
            if e["class"] != "alias":
                return label, e
            if label in seen:
                die(f"alias cycle at {label}")
            seen.add(label)
            label = e["attrs"].get("actual")

    def deps(self, label):
        e = self.get(label)
        out = []
        for d in e["attrs"].get("deps") or []:
            d, de = self.resolve(d)
            if de["class"] not in CC_RULES:
                die(f"{label} depends on {d}, a {de['class']}: not supported by "
                    "ci/aarch64_gen.py")
            out.append(d)
        return out

    def topo(self, root):
        """Root's closure, dependents before dependencies (Bazel's link order)."""
        order, state = [], {}

        def visit(label):
            if state.get(label) == 2:
                return
            if state.get(label) == 1:
                die(f"dependency cycle at {label}")
            state[label] = 1
            for d in self.deps(label):
                visit(d)
            state[label] = 2
            order.append(label)

        visit(root)
        return list(reversed(order))

    def transitive_defines(self, label):
        """The rule's `defines`, then its deps' (Bazel propagates them to dependents)."""
        if label not in self.defines:
            out = list(self.get(label)["attrs"].get("defines") or [])
            for d in self.deps(label):
                for x in self.transitive_defines(d):
                    if x not in out:
                        out.append(x)
            self.defines[label] = out
        return self.defines[label]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", action="append", required=True, metavar="NAME:CQUERY:ROOTS",
                    help="a configuration: its name, cquery jsonproto file, roots file")
    ap.add_argument("--bazelrc", required=True)
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--makefile", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--cxx", required=True)
    ap.add_argument("--toolchain-id", required=True,
                    help="compiler and library versions: everything rebuilds when it changes")
    args = ap.parse_args()

    base_flags = bazelrc_flags(args.bazelrc) + ["-DNDEBUG", "-pthread", "-iquote", "."]
    bdir = args.build_dir
    stamp = os.path.join(bdir, "toolchain.stamp")
    write_if_changed(stamp, args.toolchain_id + "\n")
    mk = ["# Generated by ci/aarch64_gen.py: do not edit.",
          f"CXX := {args.cxx}", ".DELETE_ON_ERROR:", ""]
    manifest, binaries = [], []
    objects = {}  # obj path -> (src, flagfile): shared by configs when the flags agree

    def rule_dir(label):
        pkg, _, name = label[2:].partition(":")
        return pkg, name

    for spec in args.config:
        cfg, cquery, roots_file = spec.split(":")
        rules = load_rules(cquery)
        with open(roots_file) as f:
            roots = [l.strip() for l in f if l.strip()]
        if not roots:
            die(f"{roots_file}: no root targets")
        # Every root shares one configuration: take it from the first.
        g = Graph(rules, Graph(rules, None).get(roots[0])["config"])
        rule_objs = {}  # label -> its objects in this config

        for root in roots:
            root, re_ = g.resolve(root)
            if re_["class"] not in ("cc_test", "cc_binary"):
                die(f"root {root} is a {re_['class']}, not a cc_test or cc_binary")
            if re_["attrs"].get("data"):
                die(f"{root} has data dependencies {re_['attrs']['data']}: this script does "
                    "not stage runfiles; leave it out of the roots or extend aarch64_gen.py")
            objs, linkopts = [], []
            for label in g.topo(root):
                a = g.get(label)["attrs"]
                for opt in a.get("linkopts") or []:
                    if "$(" in opt:
                        die(f"{label}: linkopt {opt!r} uses make variables: not supported")
                linkopts.extend(a.get("linkopts") or [])
                if not label.startswith("//"):
                    if a.get("srcs") or a.get("defines") or a.get("copts"):
                        die(f"external {label} has srcs/defines/copts: only link-only "
                            "externals (third_party/*.BUILD) are supported")
                    continue
                if label not in rule_objs:
                    copts = a.get("copts") or []
                    for c in copts:
                        if "$(" in c:
                            die(f"{label}: copt {c!r} uses make variables: not supported")
                    flags = (base_flags
                             + ["-D" + d for d in g.transitive_defines(label)]
                             + ["-D" + d for d in a.get("local_defines") or []]
                             + copts)
                    text = "\n".join(shlex.quote(f) for f in flags) + "\n"
                    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
                    flagfile = os.path.join(bdir, "flags", digest + ".cflags")
                    write_if_changed(flagfile, text)
                    pkg, name = rule_dir(label)
                    rule_objs[label] = []
                    for src in a.get("srcs") or []:
                        path = label_to_path(src)
                        if path.endswith(HDR_EXTS):
                            continue
                        if not path.endswith(CXX_EXTS):
                            die(f"{label}: source {src} is not C++ (.cc): not supported")
                        rel = os.path.relpath(path, pkg) if pkg else path
                        obj = os.path.join(bdir, "obj", pkg, "_objs", name, digest,
                                           os.path.splitext(rel)[0] + ".o")
                        objects[obj] = (path, flagfile, cfg)
                        rule_objs[label].append(obj)
                objs.extend(rule_objs[label])
            if not objs:
                die(f"{root}: nothing to compile")
            pkg, name = rule_dir(root)
            binary = os.path.join(bdir, cfg, "bin", pkg, name)
            linkfile = os.path.join(bdir, cfg, "flags", pkg, name + ".ldflags")
            lflags = ["-static", "-pthread"] + linkopts
            write_if_changed(linkfile, "\n".join(shlex.quote(f) for f in lflags) + "\n")
            mk.append(f"{binary}: {' '.join(objs)} {linkfile} {stamp}")
            mk.append("\t@mkdir -p $(@D)")
            mk.append(f"\t@echo '  LINK  [{cfg}] {root}'")
            mk.append(f"\t$(Q)$(CXX) -o $@ {' '.join(objs)} @{linkfile}")
            mk.append("")
            binaries.append(binary)
            size = re_["attrs"].get("size") or "-"
            manifest.append("\t".join([cfg, root, re_["class"], size, binary]))

    for obj, (src, flagfile, cfg) in sorted(objects.items()):
        mk.append(f"{obj}: {src} {flagfile} {stamp}")
        mk.append("\t@mkdir -p $(@D)")
        mk.append(f"\t@echo '  CXX   [{cfg}] {src}'")
        mk.append(f"\t$(Q)$(CXX) @{flagfile} -MMD -MP -c {src} -o $@")
        mk.append(f"-include {obj[:-2]}.d")
        mk.append("")
    mk.insert(3, "all: " + " ".join(binaries))
    mk.insert(4, ".PHONY: all")
    write_if_changed(args.makefile, "\n".join(mk) + "\n")
    with open(args.manifest, "w") as f:
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
