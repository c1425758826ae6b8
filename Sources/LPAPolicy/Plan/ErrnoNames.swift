#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The errno names a profile may use for denials. Values come from the C library
/// headers, so they are right for the platform we are built for.
public enum ErrnoNames {
    public static let table: [String: Int32] = [
        "EPERM": EPERM, "ENOENT": ENOENT, "EACCES": EACCES, "EINVAL": EINVAL,
        "ENOSYS": ENOSYS, "EAFNOSUPPORT": EAFNOSUPPORT, "EOPNOTSUPP": EOPNOTSUPP,
        "EPROTONOSUPPORT": EPROTONOSUPPORT, "ENOTTY": ENOTTY, "EROFS": EROFS,
        "ENETUNREACH": ENETUNREACH, "ECONNREFUSED": ECONNREFUSED, "EBADF": EBADF,
        "ENODEV": ENODEV, "ENXIO": ENXIO, "EIO": EIO, "ENOMEM": ENOMEM,
        // Never returned by the kernel for the calls we deny: tests use it to prove that
        // seccomp, not a missing capability, stopped a call.
        "ENOTRECOVERABLE": ENOTRECOVERABLE,
    ]

    public static func number(_ name: String) -> Int32? { table[name] }

    public static func name(_ number: Int32) -> String? {
        table.first { $0.value == number }?.key
    }
}
