// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "lpa-run",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "lpa-run", targets: ["lpa-run"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // System libraries, found with pkg-config (Debian: libseccomp-dev, libcap-dev).
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp",
                       providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(name: "CCap", pkgConfig: "libcap",
                       providers: [.apt(["libcap-dev"])]),
        // The pure policy compiler: profiles in, an IsolationPlan out. No syscalls
        // beyond libseccomp/libcap name resolution.
        .target(name: "LPAPolicy",
                dependencies: ["CSeccomp", "CCap", "Yams",
                               .product(name: "Crypto", package: "swift-crypto")]),
        // The post-clone window: raw system calls only, no allocation (see ARCHITECTURE.md).
        .target(name: "CLaunch", dependencies: ["CSeccomp", "CCap"],
                cSettings: [.unsafeFlags(["-Wall", "-Werror", "-O2"])]),
        // Executes a plan: one file per isolation concern.
        .target(name: "LPASandbox", dependencies: ["LPAPolicy", "CLaunch", "CSeccomp", "CCap",
                                                 .product(name: "Crypto", package: "swift-crypto")]),
        .executableTarget(name: "lpa-run",
                          dependencies: ["LPAPolicy", "LPASandbox",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Test-only probe that runs inside sandboxes and reports what it could do.
        .executableTarget(name: "lpa-probe", cSettings: [.unsafeFlags(["-Wall", "-Werror", "-O2"])],
                          // SwiftPM links every executable with swiftc; keep the probe free of
                          // Swift runtime libraries so it runs in a sandbox that lacks them.
                          linkerSettings: [.unsafeFlags(["-static-stdlib"])]),
        .testTarget(name: "LPAPolicyTests", dependencies: ["LPAPolicy"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "LPASandboxTests", dependencies: ["LPASandbox", "LPAPolicy"]),
    ]
)
