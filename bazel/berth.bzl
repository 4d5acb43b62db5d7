"""Macros every berth target goes through, so copts and system-library deps change in one place."""

BERTH_COPTS = [
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Wno-unused-parameter",
    "-Wno-missing-field-initializers",
]

# Every berth C++ target may use Abseil. glog only where asked for (glog = True, or an explicit
# @sys//:glog dep): berth-runc must not load it, it is a short-lived CLI whose start-up counts.
def _with_base(deps, glog = False):
    base = ["@sys//:absl"] + (["@sys//:glog"] if glog else [])
    return deps + [d for d in base if d not in deps]

def berth_cc_library(name, deps = [], copts = [], glog = False, **kwargs):
    native.cc_library(
        name = name,
        deps = _with_base(deps, glog),
        copts = BERTH_COPTS + copts,
        **kwargs
    )

def berth_cc_binary(name, deps = [], copts = [], glog = False, **kwargs):
    native.cc_binary(
        name = name,
        deps = _with_base(deps, glog),
        copts = BERTH_COPTS + copts,
        **kwargs
    )

def berth_cc_test(name, deps = [], copts = [], main = True, **kwargs):
    """A GoogleTest test. main=False when the test brings its own main()."""
    test_deps = ["@sys//:gtest_main" if main else "@sys//:gtest", "//common/testing"]
    native.cc_test(
        name = name,
        deps = _with_base(deps + [d for d in test_deps if d not in deps], glog = True),
        copts = BERTH_COPTS + copts,
        **kwargs
    )

def _proto_group(label):
    """The filegroup that berth_cc_grpc(label) declares with its .proto sources."""
    if label.startswith("//") or label.startswith(":"):
        if ":" not in label:
            label = label + ":" + label.rsplit("/", 1)[-1]
        return label + "_protos"
    fail("berth_cc_grpc deps must be berth_cc_grpc targets in this workspace: " + label)

def berth_cc_grpc(name, srcs, deps = [], grpc = True, visibility = ["//visibility:public"]):
    """C++ messages (and gRPC stubs) for .proto files under //proto, made by Debian's protoc.

    Bazel's proto_library needs protobuf's source repository, which is not available offline,
    so a genrule runs /usr/bin/protoc and /usr/bin/grpc_cpp_plugin. Imports are rooted at
    proto/ ("berth/engine/v1/system.proto") and google/protobuf/*.proto come from /usr/include.
    deps are other berth_cc_grpc targets whose .proto files these import.
    """
    pkg = native.package_name()
    if not pkg.startswith("proto/"):
        fail("berth_cc_grpc belongs under //proto")
    dep_groups = [_proto_group(d) for d in deps]

    native.filegroup(
        name = name + "_protos",
        srcs = srcs + dep_groups,
        visibility = visibility,
    )

    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc"]
        if grpc:
            outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]

    grpc_flags = ""
    if grpc:
        grpc_flags = ("--grpc_out=$(GENDIR)/proto " +
                      "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin ")
    native.genrule(
        name = name + "_codegen",
        srcs = srcs + dep_groups,
        outs = outs,
        cmd = ("/usr/bin/protoc -Iproto -I/usr/include --cpp_out=$(GENDIR)/proto " +
               grpc_flags + " ".join([pkg + "/" + s for s in srcs])),
        message = "protoc " + pkg,
    )

    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        strip_include_prefix = "/proto",
        deps = deps + ["@sys//:grpcpp", "@sys//:protobuf"],
        copts = ["-std=c++17", "-w"],
        visibility = visibility,
    )
