#if canImport(Glibc)
import Glibc
#endif
import CShims
import CSupervisor

/// Connections relayed through published ports and host endpoints.
public struct RelayStats: Sendable {
    public var connectionsServed: UInt64 = 0
    public var connectionsRefused: UInt64 = 0
}

/// The launcher's event loop (relay.c) after the workload started: published ports and
/// host endpoints on lpa-run's main thread, the audit supervisor's seccomp
/// notifications on a thread of its own (so relay work never delays an answer), until
/// the init exits. Both threads have ended when `run` returns.
enum EventLoop {
    static func run(network: NetworkSetup, audit: AuditSupervisor?, dns: DNSRecorder? = nil,
                    initPid: pid_t) throws(LaunchError) -> RelayStats {
        // Each relayed connection holds two sockets and two pipes: lift the soft limit.
        // (Beyond it, relay.c pauses the listener instead of failing: see RelayAbuseTests.)
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 && limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
        let pidfd = lpa_pidfd_open(initPid)
        if pidfd < 0 {
            let err = errno
            kill(initPid, SIGKILL)
            throw LaunchError(step: "relay: pidfd_open", errno: err, message: "cannot watch the sandbox's init",
                              hint: "pidfd needs Linux 5.3 or later")
        }
        defer { close(pidfd) }
        let fds = network.publishFds
        let ports = network.publishSandboxPorts
        let targets = network.connectTargets
        var stats = lpa_relay_stats()
        let rc = fds.withUnsafeBufferPointer { fdBuffer in
            ports.withUnsafeBufferPointer { portBuffer in
                targets.withUnsafeBufferPointer { targetBuffer in
                    withUnsafeMutablePointer(to: &stats) { statsPointer in
                        func loop(_ auditSpec: UnsafeMutablePointer<lpa_audit_spec>?,
                                  _ dnsSpec: UnsafePointer<lpa_dns_spec>?) -> Int32 {
                            var spec = lpa_relay_spec(
                                control_fd: network.control?.launcher ?? -1, init_pidfd: pidfd,
                                publish_fds: fdBuffer.baseAddress, publish_sandbox_ports: portBuffer.baseAddress,
                                publish_count: fdBuffer.count, connect_targets: targetBuffer.baseAddress,
                                connect_count: targetBuffer.count, stats: statsPointer, audit: auditSpec,
                                connections_max: network.maxConnections,
                                idle_timeout_ms: network.idleTimeoutMilliseconds, dns: dnsSpec)
                            return lpa_relay_run(&spec)
                        }
                        func withDNS(_ auditSpec: UnsafeMutablePointer<lpa_audit_spec>?) -> Int32 {
                            dns.map { $0.withSpec { loop(auditSpec, $0) } } ?? loop(auditSpec, nil)
                        }
                        return audit.map { $0.withSpec { withDNS($0) } } ?? withDNS(nil)
                    }
                }
            }
        }
        if rc != 0 {
            let err = errno
            kill(initPid, SIGKILL)
            throw LaunchError(step: "relay", errno: err, message: "the relay for published ports could not start")
        }
        // The audit thread has been joined: the log's summary lines come last.
        audit?.finishLog()
        dns?.finishLog()
        return RelayStats(connectionsServed: stats.connections_served, connectionsRefused: stats.connections_refused)
    }
}
