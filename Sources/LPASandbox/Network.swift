import LPAPolicy

/// The network concern. In `none` mode the sandbox gets a fresh network namespace whose
/// only interface, loopback, the init brings up (launch.c `loopback_up`): no route
/// leads anywhere, so nothing inside can phone home.
struct NetworkSetup {
    let newNamespace: Bool

    init(plan: IsolationPlan) throws(LaunchError) {
        let wantsNetNamespace = plan.namespaces.contains(.net)
        switch plan.network.mode {
        case .none:
            guard wantsNetNamespace else {
                throw LaunchError(step: "network", message: "network mode `none` needs the `net` namespace",
                                  hint: "add `net` to `namespaces`, or choose `network: {mode: host}` explicitly")
            }
        case .host:
            break
        }
        newNamespace = wantsNetNamespace
        if !plan.network.publish.isEmpty || !plan.network.connect.isEmpty {
            // Fail closed: never start a server whose ports the user expects to be relayed
            // and are not.
            throw LaunchError(step: "network: relays",
                              message: "published ports and host endpoints are not supported by this build",
                              hint: "remove `publish`/`connect` (and -p/--connect) until relays land")
        }
    }
}
