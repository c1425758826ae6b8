#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// RLIMIT_* numbers from the C library, by the lower-case name profiles use.
enum RlimitNames {
    // The Linux-only limits are imported under their glibc enumerator names (__RLIMIT_*).
    static let numbers: [String: Int32] = [
        "as": Int32(RLIMIT_AS.rawValue), "core": Int32(RLIMIT_CORE.rawValue), "cpu": Int32(RLIMIT_CPU.rawValue),
        "data": Int32(RLIMIT_DATA.rawValue), "fsize": Int32(RLIMIT_FSIZE.rawValue),
        "locks": Int32(__RLIMIT_LOCKS.rawValue), "memlock": Int32(__RLIMIT_MEMLOCK.rawValue),
        "msgqueue": Int32(__RLIMIT_MSGQUEUE.rawValue), "nice": Int32(__RLIMIT_NICE.rawValue),
        "nofile": Int32(RLIMIT_NOFILE.rawValue), "nproc": Int32(__RLIMIT_NPROC.rawValue),
        "rss": Int32(__RLIMIT_RSS.rawValue), "rtprio": Int32(__RLIMIT_RTPRIO.rawValue),
        "rttime": Int32(__RLIMIT_RTTIME.rawValue), "sigpending": Int32(__RLIMIT_SIGPENDING.rawValue),
        "stack": Int32(RLIMIT_STACK.rawValue),
    ]
}
