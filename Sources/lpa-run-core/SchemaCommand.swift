import ArgumentParser
import LPAPolicy

/// `lpa-run schema`: the JSON Schema of the profile language, generated from the key
/// table the parser validates against (docs/profile.schema.json is a checked-in copy).
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema of profiles, for editors: "
            + "`# yaml-language-server: $schema=<path or URL of profile.schema.json>`.")

    func exitStatus() -> Int32 {
        print(ProfileJSONSchema.text, terminator: "")
        return 0
    }
}
