// swift-tools-version:6.0
import PackageDescription

// The shipped lpa-run is a static PIE (`make build` sets LPA_STATIC_PIE=1 and passes
// --disable-local-rpath): no dynamic loader and no shared libraries to map and relocate
// at each start (start-up is benchmarked against bubblewrap), and ASLR kept (ELF type
// DYN, no PT_INTERP). lld packs the relative relocations (DT_RELR). glibc's static-PIE
// start-up asserts that there is no DT_RUNPATH, which SwiftPM adds unless told
// --disable-local-rpath, hence an opt-in rather than every release build.
let staticPIE: [LinkerSetting] = Context.environment["LPA_STATIC_PIE"] == "1"
    ? [.unsafeFlags(["-static-executable", "-use-ld=lld", "-Xclang-linker", "-static-pie",
                     "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"], .when(configuration: .release))]
    : []
// Generic type metadata through direct accessor functions instead of mangled names that
// the runtime demangles on first use (swift_getTypeByMangledName and the conformance
// scans it triggers were ~10% of a `--profile strict /bin/true` run): 1.54x -> 1.40x
// bwrap in an interleaved A/B, for 70 KB of code. Shipped build only, like staticPIE.
let fastMetadata: [SwiftSetting] = Context.environment["LPA_STATIC_PIE"] == "1"
    ? [.unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"], .when(configuration: .release))]
    : []

let package = Package(
    name: "lpa-run",
    platforms: [.macOS(.v13)],
    products: [
        // The Swift program; `make build` puts the front (`lpa-run`, Sources/lpa-run/main.c,
        // built with the C compiler as a static PIE) beside it.
        .executable(name: "lpa-run-core", targets: ["lpa-run-core"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Sources/lpa-run (the front, C) is not a SwiftPM target: SwiftPM links every
        // executable with swiftc, which brings the Swift runtime the front exists to avoid.
        // The Makefile builds it from the CLaunch, CSupervisor, CWindow and CShims sources.
        // System libraries, found with pkg-config (Debian: libseccomp-dev, libcap-dev,
        // libyaml-dev).
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp",
                       providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", pkgConfig: "libcap",
                       providers: [.apt(["libcap-dev"])]),
        // libyaml's event parser, under our own composer (Language/YAMLComposer.swift):
        // no Foundation, so no ICU in the binary.
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1",
                       providers: [.apt(["libyaml-dev"])]),
        // The pure policy compiler: profiles in, an IsolationPlan out. No syscalls
        // beyond libseccomp/libcap name resolution.
        .target(name: "LPAPolicy",
                dependencies: ["CSeccomp", "CCap", "CYAML",
                               .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: fastMetadata),
        // System call wrappers Swift cannot make (variadic syscall(2), hidden constants),
        // doctor's kernel checks, and the one SCM_RIGHTS unit (fdpass.c) with the control
        // protocol header shared by the window and the supervisor. fdpass.c follows the
        // window's rules; the rest runs in the ordinary launcher process.
        .target(name: "CShims",
                cSettings: [.unsafeFlags(["-Wall", "-Werror", "-O2"])]),
        // The post-clone window (clone to execve): raw system calls, no allocation, no
        // stdio, no locks (see ARCHITECTURE.md; LPALauncherTests checks the symbols).
        .target(name: "CWindow", dependencies: ["CShims", "CCap"],
                cSettings: [.unsafeFlags(["-Wall", "-Werror", "-O2"])]),
        // The launcher's event loop after the workload started: the relay and the audit
        // supervisor's C half. Ordinary process: may allocate.
        .target(name: "CSupervisor", dependencies: ["CShims"],
                cSettings: [.unsafeFlags(["-Wall", "-Werror", "-O2"])]),
        // The executor's host-side steps (pipes, clone, id maps, start, setup report,
        // wait), one copy shared by the Swift launcher and the launch record's fast path.
        // Ordinary process.
        .target(name: "CLaunch", dependencies: ["CWindow", "CSupervisor", "CShims", "CCap"],
                cSettings: [.unsafeFlags(["-Wall", "-Werror", "-O2"])]),
        // Executes a plan: one file per isolation concern.
        .target(name: "LPASandbox", dependencies: ["LPAPolicy", "CWindow", "CSupervisor", "CShims", "CLaunch",
                                                 "CSeccomp", "CCap",
                                                 .product(name: "Crypto", package: "swift-crypto")],
                swiftSettings: fastMetadata),
        .executableTarget(name: "lpa-run-core",
                          dependencies: ["LPAPolicy", "LPASandbox", "CLaunch",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
                          swiftSettings: fastMetadata, linkerSettings: staticPIE),
        // Test-only probe that runs inside sandboxes and reports what it could do.
        .executableTarget(name: "lpa-probe", cSettings: [.unsafeFlags(["-Wall", "-Werror", "-O2"])],
                          // SwiftPM links every executable with swiftc; keep the probe free of
                          // Swift runtime libraries so it runs in a sandbox that lacks them.
                          linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        // libFuzzer targets for the parsers of hostile bytes (`make fuzz`, docs/RELIABILITY.md);
        // a replay tool in an ordinary build.
        .executableTarget(name: "lpa-fuzz", dependencies: ["LPAPolicy", "LPASandbox"]),
        .testTarget(name: "LPAPolicyTests", dependencies: ["LPAPolicy"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LPASandboxTests", dependencies: ["LPASandbox", "LPAPolicy", "CShims", "CLaunch"]),
        // lpa-run's command line (option table, splitter, parser, help), without running anything.
        .testTarget(name: "LPARunTests", dependencies: ["lpa-run-core", "LPAPolicy"]),
        // The executing side's pure parts (mount steps, audit rules and records, the
        // window's symbol check): no root, no sandbox, no llama-server.
        .testTarget(name: "LPALauncherTests",
                    dependencies: ["LPASandbox", "LPAPolicy", "CWindow", "CSupervisor", "CShims", "CSeccomp", "lpa-fuzz"]),
    ]
)
