"""gonet_deps(): every external repository gonet's targets need, fully offline.

Call it from a WORKSPACE that names this repository "gonet":

    local_repository(name = "gonet", path = "...")
    load("@gonet//:deps.bzl", "gonet_deps")
    gonet_deps()

Abseil, GoogleTest and Google Benchmark come from Debian's -dev packages under /usr
(`./bazelw` installs them). rules_cc, rules_java and remote_coverage_tools are tiny
stand-ins kept in third_party/, because Bazel 4.2.3 would otherwise try to download
them even for a pure C++ build.
"""

def _stub_repo_impl(ctx):
    src = ctx.path(ctx.attr.marker).dirname
    for child in src.readdir():
        ctx.symlink(child, child.basename)

_stub_repo = repository_rule(
    implementation = _stub_repo_impl,
    attrs = {"marker": attr.label(mandatory = True)},
    local = True,
)

def gonet_deps():
    """Declares rules_cc, rules_java, remote_coverage_tools, absl, gtest, benchmark."""
    existing = native.existing_rules()
    for name in ["rules_cc", "rules_java", "remote_coverage_tools"]:
        if name not in existing:
            _stub_repo(name = name, marker = "@gonet//third_party/%s:WORKSPACE" % name)
    for name in ["absl", "gtest", "benchmark"]:
        if name not in existing:
            native.new_local_repository(
                name = name,
                path = "/usr",
                build_file = "@gonet//third_party:%s.BUILD" % name,
            )
