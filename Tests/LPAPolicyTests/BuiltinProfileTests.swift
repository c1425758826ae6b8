import Foundation
import Testing
@testable import LPAPolicy

struct BuiltinProfileTests {
    @Test func embeddedProfilesEqualTheFilesInProfilesDirectory() throws {
        let directory = Fixture.repositoryRoot.appendingPathComponent("profiles")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }
        #expect(Set(files.map { ProfileReference.name(ofPath: $0) }) == Set(BuiltinProfiles.texts.keys))
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            #expect(BuiltinProfiles.texts[ProfileReference.name(ofPath: file)] == text,
                    "\(file) differs from the embedded copy: run scripts/embed-profiles.sh")
        }
    }

    @Test(arguments: ["strict", "agent", "gpu"])
    func builtinProfileChecksClean(_ name: String) {
        let compiler = PolicyCompiler(loader: InMemoryProfileLoader(), context: Fixture.context)
        #expect(compiler.check(file: name).isEmpty)
    }

    @Test func fileLoaderFindsBuiltinsAndListsThem() throws {
        let loader = FileProfileLoader(environment: ["HOME": "/nonexistent-lpa-home"], cwd: "/")
        #expect(try loader.load("strict", from: nil).path == "builtin:strict")
        let listing = loader.available().first { $0.name == "agent" }
        #expect(listing?.description == "strict plus read-write access to the current directory")
    }

    @Test func fileLoaderResolvesRelativeExtendsAgainstTheParentDirectory() throws {
        let loader = FileProfileLoader(environment: ["HOME": "/nonexistent-lpa-home"], cwd: "/")
        let parent = LoadedProfile(name: "server", path: Fixture.fixtures.path + "/profiles/server.yaml", text: "")
        let loaded = try loader.load("./relaxed.yaml", from: parent)
        #expect(loaded.path == Fixture.fixtures.path + "/profiles/relaxed.yaml")
        #expect(loaded.name == "relaxed")
    }
}
