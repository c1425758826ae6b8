/// Applies profiles in order (parents first, then the child) into one effective
/// profile. Rules, documented in docs/profiles.md:
/// - scalars: the later profile wins;
/// - lists: appended, duplicates dropped; `{replace: [...]}` replaces;
/// - maps (`set`, `rlimits`): merged per key, the later profile wins;
/// - `namespaces` is a set, not a list: the later profile's set wins;
/// - `seccomp.deny`/`allow` are kept per profile and replayed in order by the
///   seccomp compiler, so a child's `allow` removes what a parent denied.
struct ProfileMerger {
    /// The effective profile, plus the per-profile seccomp steps.
    struct Merged {
        var document = ProfileDocument()
        var seccompSteps: [(deny: ListValue<String>?, allow: ListValue<String>?)] = []
    }

    static func merge(_ documents: [ProfileDocument]) -> Merged {
        var merged = Merged()
        for child in documents {
            merged.document.overlay(child)
            if child.seccompDeny != nil || child.seccompAllow != nil {
                merged.seccompSteps.append((child.seccompDeny, child.seccompAllow))
            }
        }
        return merged
    }
}

extension ProfileDocument {
    mutating func overlay(_ child: ProfileDocument) {
        func scalar<T>(_ mine: inout T?, _ theirs: T?) { if let theirs { mine = theirs } }
        scalar(&description, child.description)
        scalar(&namespaces, child.namespaces)
        scalar(&hostname, child.hostname)
        scalar(&runAs, child.runAs)
        scalar(&networkMode, child.networkMode)
        scalar(&bindPorts, child.bindPorts)
        scalar(&connectPorts, child.connectPorts)
        scalar(&maxConnections, child.maxConnections)
        scalar(&idleTimeout, child.idleTimeout)
        scalar(&dns, child.dns)
        publish = ListMerge.merge(publish, child.publish) { $0.mergeKey }
        connect = ListMerge.merge(connect, child.connect) { $0.mergeKey }
        readOnly = ListMerge.merge(readOnly, child.readOnly) { $0.path }
        readWrite = ListMerge.merge(readWrite, child.readWrite) { $0.path }
        hide = ListMerge.merge(hide, child.hide) { $0.path }
        tmpfs = ListMerge.merge(tmpfs, child.tmpfs) { $0.path }
        scalar(&home, child.home)
        caches = ListMerge.merge(caches, child.caches) { $0.path }
        scalar(&noswap, child.noswap)
        scalar(&tmpfsSize, child.tmpfsSize)
        scalar(&shmSize, child.shmSize)
        scalar(&cwd, child.cwd)
        devices = ListMerge.merge(devices, child.devices) { $0.path }
        allowSockets = ListMerge.merge(allowSockets, child.allowSockets) { $0.path }
        scalar(&seccompDefault, child.seccompDefault)
        scalar(&seccompErrno, child.seccompErrno)
        socketFamilies = ListMerge.merge(socketFamilies, child.socketFamilies) { "\($0.value)" }
        ioctlDeny = ListMerge.merge(ioctlDeny, child.ioctlDeny) { "\($0.value)" }
        denyCloneFlags = ListMerge.merge(denyCloneFlags, child.denyCloneFlags) { "\($0.value)" }
        personalityFlags = ListMerge.merge(personalityFlags, child.personalityFlags) { "\($0.value)" }
        rules = ListMerge.merge(rules, child.rules) { "\($0)" }
        scalar(&otherArchitectures, child.otherArchitectures)
        capabilities = ListMerge.merge(capabilities, child.capabilities) { $0.name }
        rlimits.merge(child.rlimits) { _, new in new }
        keep = ListMerge.merge(keep, child.keep) { $0 }
        set.merge(child.set) { _, new in new }
        allowSecrets = ListMerge.merge(allowSecrets, child.allowSecrets) { $0 }
        models = ListMerge.merge(models, child.models) { $0.path }
        modelArguments = ListMerge.merge(modelArguments, child.modelArguments) { $0 }
        scalar(&pinExecutable, child.pinExecutable)
        // A child re-pinning a path (a new release) must win, not be dropped as a duplicate.
        pinFiles = ListMerge.merge(pinFiles, child.pinFiles, laterWins: true) { $0.path }
        pinDirectories = ListMerge.merge(pinDirectories, child.pinDirectories, laterWins: true) { $0.path }
        scalar(&landlock, child.landlock)
        scalar(&isolation, child.isolation)
        landlockExclude = ListMerge.merge(landlockExclude, child.landlockExclude) { $0 }
    }
}

enum ListMerge {
    /// Appends `child` to `parent` (dropping items whose key was already there),
    /// or replaces it when the child wrote `{replace: [...]}`.
    /// With `laterWins`, an item of the child replaces the parent's item with the same key.
    static func merge<Item>(_ parent: ListValue<Item>?, _ child: ListValue<Item>?, laterWins: Bool = false,
                            key: (Item) -> String) -> ListValue<Item>? {
        guard let child else { return parent }
        guard let parent, !child.replace else { return dedupe(child, key: key) }
        var combined = child
        let childKeys = Set(child.items.map { key($0.value) })
        combined.items = (laterWins ? parent.items.filter { !childKeys.contains(key($0.value)) } : parent.items)
            + child.items
        return dedupe(combined, key: key)
    }

    private static func dedupe<Item>(_ list: ListValue<Item>, key: (Item) -> String) -> ListValue<Item> {
        var seen: Set<String> = []
        var result = list
        result.items = list.items.filter { seen.insert(key($0.value)).inserted }
        return result
    }
}
