/// What `lpa-run export` can write, and how faithfully.
public enum ExportTarget: String, CaseIterable, Sendable, Codable {
    case oci, seccomp, kubernetes, systemd
}

/// One plan setting and how the target carries it. Never silently weaker: every
/// setting of the plan has a row, and a row that is not exact says what to do instead.
public struct ParityRow: Codable, Equatable, Sendable {
    public enum Level: String, Codable, Sendable {
        /// The target enforces the same thing.
        case exact
        /// The target enforces something close; `how` says what differs.
        case approximate
        /// The target cannot say it; `how` says what the user must do instead.
        case none = "not-expressible"
    }
    /// The plan's name for the setting ("seccomp.rules", "mount /tmp", "rlimit core").
    public var setting: String
    public var level: Level
    /// How the target expresses it, or what to do instead.
    public var how: String

    public init(_ setting: String, _ level: Level, _ how: String) {
        self.setting = setting
        self.level = level
        self.how = how
    }
}

/// One file an export writes, named relative to the output directory.
public struct ExportFile: Equatable, Sendable {
    public var name: String
    public var contents: String
    public init(name: String, contents: String) {
        self.name = name
        self.contents = contents
    }
}

public struct ExportResult: Equatable, Sendable {
    public var target: ExportTarget
    public var files: [ExportFile]
    /// Empty directories the export needs beside its files (the OCI bundle's rootfs).
    public var directories: [String]
    public var parity: [ParityRow]
    /// Values the target's syntax cannot carry safely (a path with a newline would add
    /// its own lines to a systemd unit): the export is refused, nothing is written.
    public var refusals: [String] = []

    /// True when every row is exact (what `--fail-on-weaker` asks for).
    public var isExact: Bool { parity.allSatisfy { $0.level == .exact } }

    public func count(_ level: ParityRow.Level) -> Int { parity.filter { $0.level == level }.count }

    /// The table for people: a summary line, then one line per row, weakest first.
    public var parityText: String {
        var text = "parity (\(target.rawValue)): \(count(.exact)) exact, \(count(.approximate)) approximate, "
            + "\(count(.none)) not expressible\n"
        let width = min(34, parity.map(\.setting.count).max() ?? 0)
        for level in [ParityRow.Level.none, .approximate, .exact] {
            for row in parity where row.level == level {
                let label = level == .none ? "NOT EXPRESSIBLE" : level.rawValue
                let name = row.setting.count < width
                    ? row.setting + String(repeating: " ", count: width - row.setting.count) : row.setting
                text += "  " + label + String(repeating: " ", count: max(1, 16 - label.count)) + name + "  " + row.how + "\n"
            }
        }
        return text
    }

    /// The table for scripts: {"target", "exact", "summary", "rows": [...]}, sorted keys.
    public var parityJSON: String {
        ExportValue.object([
            ("target", .string(target.rawValue)),
            ("exact", .bool(isExact)),
            ("summary", .object([
                ("exact", .int(Int64(count(.exact)))),
                ("approximate", .int(Int64(count(.approximate)))),
                ("not-expressible", .int(Int64(count(.none)))),
            ])),
            ("files", .array(files.map { .string($0.name) })),
            ("rows", .array(parity.map { row in
                .object([("setting", .string(row.setting)), ("level", .string(row.level.rawValue)),
                         ("how", .string(row.how))])
            })),
        ]).json()
    }
}

/// Turns an isolation plan into another engine's documents, with the parity table.
/// Pure: no file is read, nothing on the host is looked at.
public enum PlanExporter {
    /// `name` names the files and units ("strict" → lpa-strict.service); it is reduced
    /// to a DNS label, which every target accepts.
    /// `isFile` is the host's answer to "is this bind source a regular file?" (lpa-run
    /// asks stat); without it only the plan's known files (the command, models, pins) are.
    public static func export(_ plan: IsolationPlan, to target: ExportTarget, name: String? = nil,
                              isFile: (@Sendable (String) -> Bool)? = nil) -> ExportResult {
        let label = ExportNames.label(name ?? plan.profile.chain.first?.name ?? "sandbox")
        switch target {
        case .seccomp:
            let profile = SeccompExport.profile(plan)
            return ExportResult(target: target, files: [ExportFile(name: "seccomp-\(label).json", contents: profile.json.json())],
                                directories: [], parity: profile.parity)
        case .oci: return OCIExport.export(plan, label: label, isFile: isFile)
        case .kubernetes: return KubernetesExport.export(plan, label: label)
        case .systemd: return SystemdExport.export(plan, label: label)
        }
    }
}

enum ExportNames {
    /// Lower-case letters, digits and '-', starting and ending with a letter or digit,
    /// at most 40 characters: a DNS-1123 label, a unit name and a file name at once.
    static func label(_ text: String) -> String {
        var out = ""
        for ch in text.lowercased() {
            if ch.isASCII && (ch.isLetter || ch.isNumber) { out.append(ch) } else if !out.hasSuffix("-") { out.append("-") }
        }
        while out.hasPrefix("-") { out.removeFirst() }
        while out.hasSuffix("-") { out.removeLast() }
        if out.isEmpty { out = "sandbox" }
        return String(out.prefix(40))
    }
}

/// The relay's limits (`network: max-connections / idle-timeout`) as a parity row: only
/// when the plan relays something, and never dropped silently.
enum RelayLimitsParity {
    static let setting = "relay limits"

    /// The row, its note starting with the values, or nil when nothing is relayed.
    static func row(_ plan: IsolationPlan, _ level: ParityRow.Level, _ note: String) -> ParityRow? {
        guard plan.network.hasRelays else { return nil }
        let idle = plan.network.idleTimeoutMilliseconds
        let values = "max-connections \(plan.network.maxConnections), idle-timeout "
            + (idle == 0 ? "none" : NetworkPlan.describe(milliseconds: idle))
        return ParityRow(setting, level, values + ": " + note)
    }
}
