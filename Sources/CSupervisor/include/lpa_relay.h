// The launcher's event loop: published ports and host endpoints on the calling
// thread, the audit supervisor on a thread of its own (started and joined here; without
// ports and endpoints, in the same loop), until the init exits. Nothing in the loop
// blocks; connections are capped per listener. See relay.c.
#ifndef LPA_RELAY_H
#define LPA_RELAY_H

#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include "lpa_audit.h"
#include "lpa_dns.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { LPA_RELAY_PUBLISH_MAX = 64 };

// The defaults of the profile's `network: {max-connections, idle-timeout}` (NetworkPlan
// carries the same numbers): connections relayed at once per published port and per
// host endpoint, and how long a connection may carry no byte in either direction.
enum { LPA_RELAY_CONNECTIONS_DEFAULT = 512, LPA_RELAY_CONNECTIONS_MAX = 16384 };
#define LPA_RELAY_IDLE_TIMEOUT_DEFAULT_MS 300000ULL

struct lpa_relay_stats {
    uint64_t connections_served;
    uint64_t connections_refused;   // nothing listened inside, the host endpoint refused or
                                    // timed out, over the per-listener cap, out of descriptors
    int64_t open_connections;
    uint64_t connections_idle_closed;  // closed after idle_timeout_ms without a byte moved
};

struct lpa_relay_spec {
    int control_fd;                            // launcher's end of the control socket pair
    int init_pidfd;                            // readable when the init exits
    const int *publish_fds;                    // listening on the host, one per published port
    const uint16_t *publish_sandbox_ports;
    size_t publish_count;                      // at most LPA_RELAY_PUBLISH_MAX
    const struct sockaddr_storage *connect_targets;  // host endpoints, one per --connect
    size_t connect_count;                      // at most LPA_CONNECT_LISTENERS_MAX
    struct lpa_relay_stats *stats;
    struct lpa_audit_spec *audit;              // seccomp notifications to answer, or NULL
    size_t connections_max;                    // per listener; 0: LPA_RELAY_CONNECTIONS_DEFAULT
    uint64_t idle_timeout_ms;                  // no byte either way for this long: closed; 0: never
    const struct lpa_dns_spec *dns;            // the DNS sink (dns.c): its sockets come from the
                                               // init after the connect listeners; NULL: none
};

// Runs until the init exits; returns 0, or -1 with errno when the loop could not start.
// Both threads have ended when it returns (the audit sink is called on the audit thread).
int lpa_relay_run(const struct lpa_relay_spec *spec);

#ifdef __cplusplus
}
#endif
#endif
