#if canImport(Glibc)
import Glibc
#endif
import CWindow
import Testing
import LPAPolicy
@testable import LPASandbox

/// The filesystem concern's pure part: plan entries → the low-level steps the post-clone
/// window executes. No sandbox is created; the host is only looked at (lstat of /usr).
struct MountStepTests {
    static let context = HostContext(environment: ["HOME": "/home/user", "PATH": "/usr/bin:/bin"],
                                     cwd: "/home/user/project", uid: 1000, gid: 1000)

    static func plan(_ profile: String, uid: UInt32 = 1000) throws -> IsolationPlan {
        let context = HostContext(environment: Self.context.environment, cwd: Self.context.cwd, uid: uid, gid: uid)
        let loader = InMemoryProfileLoader(profiles: [LoadedProfile(name: "p", path: "p.yaml", text: profile)])
        return try PolicyCompiler(loader: loader, context: context)
            .compile(profile: "p.yaml", command: CommandPlan(argv: ["/bin/true"], executable: "/bin/true")).plan
    }

    @Test func readOnlyBindIsReadOnlyNosuidNodevRecursively() {
        #expect(MountSteps.attributes(.readOnlyBind)
                == UInt64(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV))
        #expect(MountSteps.attributes(.readWriteBind) == UInt64(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV))
    }

    @Test func deviceNodesKeepDevButNeverSuidOrExec() {
        let options = MountOptions(noDev: false, noExec: true)
        #expect(MountSteps.attributes(options) == UInt64(MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC))
    }

    @Test func tmpfsDataIsModeThenSizeFromTypedValues() {
        let options = MountOptions(noswap: true, size: 1 << 20, mode: 0o1777)
        #expect(MountSteps.tmpfsData(options) == "mode=1777,size=1048576")
        #expect(MountSteps.tmpfsData(MountOptions(mode: 0o700)) == "mode=0700")
        #expect(MountSteps.mountFlags(MountOptions(readOnly: true, noExec: true))
                == UInt(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC))
    }

    @Test func everyPlanEntryBecomesTheStepOfItsKind() throws {
        let plan = try Self.plan("extends: strict\nfilesystem: {noswap: false}\n")
        let steps = try MountSteps(plan: plan).steps
        func kinds(_ target: String) -> [lpa_fs_op_kind] { steps.filter { $0.target == target }.map(\.kind) }
        #expect(kinds("/usr") == [LPA_FS_BIND])
        #expect(kinds("/proc") == [LPA_FS_PROC])
        #expect(kinds("/dev") == [LPA_FS_TMPFS])
        #expect(kinds("/dev/pts") == [LPA_FS_DEVPTS])
        #expect(kinds("/dev/ptmx") == [LPA_FS_SYMLINK])
        #expect(kinds("/dev/null") == [LPA_FS_BIND])
        #expect(kinds("/tmp") == [LPA_FS_TMPFS])
        // Every step comes from a plan entry: the plan shows all of it.
        #expect(steps.allSatisfy { $0.planIndex >= 0 && $0.planIndex < plan.mounts.count })
    }

    @Test func procIsProtectedOnlyWhenRootInsideIsHostRoot() throws {
        let asRoot = try MountSteps(plan: Self.plan("extends: strict\nfilesystem: {noswap: false}\n", uid: 0)).steps
        let asUser = try MountSteps(plan: Self.plan("extends: strict\nfilesystem: {noswap: false}\n")).steps
        #expect(asRoot.contains { $0.kind == LPA_FS_RDONLY_SELF && $0.target == "/proc/sys" && $0.optional })
        #expect(!asUser.contains { $0.kind == LPA_FS_RDONLY_SELF })
    }

    @Test func aVerifiedBindWithoutItsDescriptorIsRefused() throws {
        var plan = try Self.plan("extends: strict\nfilesystem: {noswap: false}\n")
        plan.mounts.append(MountEntry(kind: .bind, source: "/usr/bin/env", target: "/usr/bin/env",
                                      options: .readOnlyBind, verified: true))
        #expect(throws: LaunchError.self) { try MountSteps(plan: plan) }
    }
}
