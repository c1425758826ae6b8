#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The one errno-name table of lpa-run: names for messages (launcher, doctor, audit)
/// and the subset a profile may use for denials. Values come from the C library
/// headers, so they are right for the platform we are built for.
public enum ErrnoNames {
    /// Every errno lpa-run names anywhere, by number.
    public static let known: [Int32: String] = {
        var names: [Int32: String] = [:]
        for (name, number) in [
            ("EPERM", EPERM), ("ENOENT", ENOENT), ("EACCES", EACCES), ("EINVAL", EINVAL),
            ("ENOSYS", ENOSYS), ("EAFNOSUPPORT", EAFNOSUPPORT), ("EOPNOTSUPP", EOPNOTSUPP),
            ("EPROTONOSUPPORT", EPROTONOSUPPORT), ("ENOTTY", ENOTTY), ("EROFS", EROFS),
            ("ENETUNREACH", ENETUNREACH), ("ECONNREFUSED", ECONNREFUSED), ("EBADF", EBADF),
            ("ENODEV", ENODEV), ("ENXIO", ENXIO), ("EIO", EIO), ("ENOMEM", ENOMEM),
            ("ENOTRECOVERABLE", ENOTRECOVERABLE), ("ENOSPC", ENOSPC), ("EBUSY", EBUSY),
            ("ENOTDIR", ENOTDIR), ("EEXIST", EEXIST), ("EAGAIN", EAGAIN), ("EUSERS", EUSERS),
            ("ENAMETOOLONG", ENAMETOOLONG), ("ELOOP", ELOOP), ("EADDRINUSE", EADDRINUSE),
            ("ESTALE", ESTALE), ("EINTR", EINTR), ("ESRCH", ESRCH), ("ECHILD", ECHILD),
        ] as [(String, Int32)] {
            names[number] = name
        }
        return names
    }()

    /// The errnos a profile may name in a denial (docs/profiles.md). ENOTRECOVERABLE is
    /// never returned by the kernel for the calls we deny: tests use it to prove that
    /// seccomp, not a missing capability, stopped a call.
    public static let table: [String: Int32] = {
        let usable: Set<String> = [
            "EPERM", "ENOENT", "EACCES", "EINVAL", "ENOSYS", "EAFNOSUPPORT", "EOPNOTSUPP",
            "EPROTONOSUPPORT", "ENOTTY", "EROFS", "ENETUNREACH", "ECONNREFUSED", "EBADF",
            "ENODEV", "ENXIO", "EIO", "ENOMEM", "ENOTRECOVERABLE",
        ]
        var table: [String: Int32] = [:]
        for (number, name) in known where usable.contains(name) { table[name] = number }
        return table
    }()

    /// A switch rather than `table`: every start reads a few errno names, and building
    /// the first dictionaries of these types cost more than the lookups (0.1 ms).
    public static func number(_ name: String) -> Int32? {
        switch name {
        case "EPERM": EPERM
        case "ENOENT": ENOENT
        case "EACCES": EACCES
        case "EINVAL": EINVAL
        case "ENOSYS": ENOSYS
        case "EAFNOSUPPORT": EAFNOSUPPORT
        case "EOPNOTSUPP": EOPNOTSUPP
        case "EPROTONOSUPPORT": EPROTONOSUPPORT
        case "ENOTTY": ENOTTY
        case "EROFS": EROFS
        case "ENETUNREACH": ENETUNREACH
        case "ECONNREFUSED": ECONNREFUSED
        case "EBADF": EBADF
        case "ENODEV": ENODEV
        case "ENXIO": ENXIO
        case "EIO": EIO
        case "ENOMEM": ENOMEM
        case "ENOTRECOVERABLE": ENOTRECOVERABLE
        default: nil
        }
    }

    /// The symbolic name of any errno lpa-run knows, nil otherwise.
    public static func name(_ number: Int32) -> String? { known[number] }

    /// "EPERM", or "errno 123" for a number without a name here.
    public static func describe(_ number: Int32) -> String { known[number] ?? "errno \(number)" }
}
