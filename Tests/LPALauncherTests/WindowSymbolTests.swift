import Foundation
import Testing

/// The post-clone window (CWindow, and fdpass.c which it calls) must not allocate, use
/// stdio or take locks: between clone and execve only raw system calls are safe. These
/// tests read the symbols its object files reference, as built under .build.
@Suite("post-clone window symbols")
struct WindowSymbolTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// Calls that allocate, use stdio or lock, by exact name.
    static let forbiddenNames: Set<String> = [
        "malloc", "calloc", "realloc", "reallocarray", "free", "aligned_alloc", "posix_memalign", "memalign",
        "valloc", "pvalloc", "strdup", "strndup", "__strdup", "__strndup", "asprintf", "vasprintf",
        "puts", "fputs", "putchar", "fputc", "putc", "fwrite", "fread", "fopen", "fdopen", "freopen", "fclose",
        "fflush", "perror", "strtok", "strtok_r", "__strtok_r", "getline", "getdelim", "opendir", "scandir",
        "setenv", "putenv", "stdout", "stderr", "stdin",
    ]
    /// ... and by family: the printf family (with its _chk variants), stdio internals, locks.
    static let forbiddenParts = ["printf", "_IO_", "pthread_mutex", "pthread_rwlock", "pthread_spin", "sem_wait"]

    static func isForbidden(_ symbol: String) -> Bool {
        forbiddenNames.contains(symbol) || forbiddenParts.contains { symbol.contains($0) }
    }

    /// The object files of a C target in every build configuration under .build
    /// (.build/debug/T.build and .build/<triple>/debug/T.build name the same files).
    static func objects(of target: String) -> [String] {
        let files = FileManager.default
        let build = packageRoot + "/.build"
        var directories: [String] = []
        for first in (try? files.contentsOfDirectory(atPath: build)) ?? [] {
            directories.append("\(build)/\(first)/\(target).build")
            for second in (try? files.contentsOfDirectory(atPath: "\(build)/\(first)")) ?? [] {
                directories.append("\(build)/\(first)/\(second)/\(target).build")
            }
        }
        var seen = Set<String>()
        var result: [String] = []
        for directory in directories {
            for name in (try? files.contentsOfDirectory(atPath: directory)) ?? [] where name.hasSuffix(".o") {
                let path = URL(fileURLWithPath: "\(directory)/\(name)").resolvingSymlinksInPath().path
                if seen.insert(path).inserted { result.append(path) }
            }
        }
        return result.sorted()
    }

    /// `nm -u`: the symbols an object file needs from elsewhere.
    static func undefinedSymbols(_ object: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["nm", "-u", object]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "nm -u \(object) failed (is binutils installed?)")
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            line.split(separator: " ").last.map { String($0.split(separator: "@").first ?? $0) }
        }
    }

    static func forbiddenSymbols(in objects: [String]) throws -> [String: [String]] {
        var found: [String: [String]] = [:]
        for object in objects {
            let bad = try undefinedSymbols(object).filter(isForbidden)
            if !bad.isEmpty { found[URL(fileURLWithPath: object).lastPathComponent] = bad }
        }
        return found
    }

    @Test("the window's object files reference no allocator, stdio or lock")
    func windowMakesOnlyRawCalls() throws {
        let window = Self.objects(of: "CWindow")
        try #require(window.contains { $0.hasSuffix("/window.c.o") }, "no CWindow object under \(Self.packageRoot)/.build")
        let fdpass = Self.objects(of: "CShims").filter { $0.hasSuffix("/fdpass.c.o") }
        try #require(!fdpass.isEmpty, "no fdpass object under .build")
        let found = try Self.forbiddenSymbols(in: window + fdpass)
        #expect(found.isEmpty, "forbidden in the post-clone window: \(found)")
    }

    @Test("the check sees allocation and stdio where they are: the supervisor's relay and audit")
    func checkFindsSupervisorAllocation() throws {
        let supervisor = Self.objects(of: "CSupervisor")
        try #require(!supervisor.isEmpty, "no CSupervisor object under .build")
        let found = try Self.forbiddenSymbols(in: supervisor).values.flatMap { $0 }
        #expect(found.contains("calloc"))
        #expect(found.contains { $0.contains("snprintf") })
    }
}
