#if canImport(Glibc)
import Glibc
#endif

/// A one-line progress bar on stderr with rate and ETA, for hashing models of tens of
/// GB. Silent unless stderr is a terminal (logs and pipes get no control characters).
public final class HashProgress {
    private let enabled: Bool
    private var label = ""
    private var total: UInt64 = 0
    private var started = 0.0
    private var lastDraw = 0.0
    private var drawn = false

    public init(quiet: Bool) {
        enabled = !quiet && isatty(2) == 1
    }

    /// Starts a bar for one file; small files (under 64 MiB) finish before a bar helps.
    public func begin(_ label: String, total: UInt64) {
        self.label = label
        self.total = total
        started = Self.now()
        lastDraw = 0
        drawn = false
    }

    public func update(_ done: UInt64) {
        guard enabled, total >= 64 << 20 else { return }
        let now = Self.now()
        guard now - lastDraw >= 0.1 || done == total else { return }
        lastDraw = now
        drawn = true
        let elapsed = max(now - started, 1e-6)
        let rate = Double(done) / elapsed
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let width = 24
        let filled = min(width, Int(fraction * Double(width)))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let eta = rate > 0 ? Double(total - min(done, total)) / rate : 0
        let name = label.count > 40 ? "…" + label.suffix(39) : label
        let line = "\r\u{1B}[K\(name) [\(bar)] \(Int(fraction * 100))% \(Self.bytes(rate))/s ETA \(Self.duration(eta))"
        writeStandardError(line)
    }

    public func end() {
        if drawn { writeStandardError("\r\u{1B}[K") }
        drawn = false
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func bytes(_ value: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = value
        var i = 0
        while v >= 1024 && i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(Int(v)) B" : "\((v * 10).rounded() / 10) \(units[i])"
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\((s % 3600) / 60)m" : "\(s / 60):" + (s % 60 < 10 ? "0" : "") + "\(s % 60)"
    }
}

