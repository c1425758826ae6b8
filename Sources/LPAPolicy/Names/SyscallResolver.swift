import CSeccomp
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Syscall names and numbers, always from libseccomp: no hand-kept tables that
/// drift from the kernel ABI.
enum SyscallResolver {
    /// libseccomp's __NR_SCMP_ERROR: the name is unknown on every architecture.
    private static let unknown: Int32 = -1

    /// The native number, or a negative pseudo-number for a syscall this
    /// architecture lacks; nil when libseccomp does not know the name at all.
    static func number(of name: String) -> Int32? {
        let number = seccomp_syscall_resolve_name(name)
        return number == unknown ? nil : number
    }

    /// Every native syscall name, for "did you mean" suggestions.
    static let nativeNames: [String] = {
        var names: [String] = []
        for number in Int32(0)..<1024 {
            guard let name = seccomp_syscall_resolve_num_arch(0 /* SCMP_ARCH_NATIVE */, number) else { continue }
            names.append(String(cString: name))
            free(name)
        }
        return names
    }()

    /// libseccomp's name for the native architecture, found by asking which known
    /// name resolves to the native token.
    static let nativeArchitecture: String = {
        let native = seccomp_arch_native()
        let candidates = ["x86_64", "aarch64", "x86", "x32", "arm", "riscv64", "ppc64le", "ppc64", "ppc",
                          "s390x", "s390", "mips", "mipsel", "mips64", "mipsel64", "mips64n32", "mipsel64n32",
                          "loongarch64", "parisc", "parisc64", "m68k", "sheb", "sh"]
        if let name = candidates.first(where: { seccomp_arch_resolve_name($0) == native }) { return name }
        #if arch(x86_64)
        return "x86_64"
        #elseif arch(arm64)
        return "aarch64"
        #else
        return "unknown"
        #endif
    }()
}
