/// Profiles held in memory (tests, embedding programs), falling back to the
/// built-ins. Keys are references exactly as written: a name or a path.
public struct InMemoryProfileLoader: ProfileLoader {
    public var profiles: [String: LoadedProfile]

    public init(profiles: [LoadedProfile] = []) {
        var byReference: [String: LoadedProfile] = [:]
        for profile in profiles {
            byReference[profile.path] = profile
            byReference[profile.name] = profile
        }
        self.profiles = byReference
    }

    public func load(_ reference: String, from parent: LoadedProfile?) throws(ProfileLoadError) -> LoadedProfile {
        if let builtin = try ProfileReference.builtin(reference) { return builtin }
        if let profile = profiles[reference] { return profile }
        if let parent, ProfileReference.isPath(reference),
           let profile = profiles[ProfileReference.join(ProfileReference.directory(of: parent.path), reference)] {
            return profile
        }
        if let text = BuiltinProfiles.texts[reference] {
            return LoadedProfile(name: reference, path: "builtin:" + reference, text: text)
        }
        throw ProfileLoadError(message: "no profile named '\(reference)'"
                               + Suggestion.phrase(for: reference, in: Array(profiles.keys) + BuiltinProfiles.texts.keys))
    }
}
