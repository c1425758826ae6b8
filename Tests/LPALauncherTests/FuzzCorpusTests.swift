import Foundation
import Testing
@testable import lpa_fuzz

/// Every input the fuzzer was seeded with or found (Tests/FuzzCorpus/TARGET/, crashes
/// kept as `crash-*`), replayed through the same targets and checks `make fuzz` runs:
/// a crash or hang fixed once stays fixed. The fuzzing itself is `make fuzz`
/// (docs/RELIABILITY.md).
@Suite("fuzz corpus replay")
struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("FuzzCorpus")

    static func inputs(_ target: FuzzTarget) -> [URL] {
        let dir = corpus.appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.sorted().map { dir.appendingPathComponent($0) }
    }

    @Test("every corpus input of every target returns and keeps its properties", arguments: FuzzTarget.allCases)
    func replay(target: FuzzTarget) throws {
        let inputs = Self.inputs(target)
        #expect(inputs.count >= 3, "the \(target) corpus is missing: \(Self.corpus.path)")
        for input in inputs {
            let started = ContinuousClock.now
            target.run(Array(try Data(contentsOf: input)))
            // A generous bound: the fuzzer's own timeout is 10 s per input on a loaded machine.
            #expect(ContinuousClock.now - started < .seconds(10), "\(input.lastPathComponent) took too long")
        }
    }
}
