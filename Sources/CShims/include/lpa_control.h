// The control protocol between the sandbox (the init and the workload, in the
// post-clone window) and the launcher's event loop. Every message is one
// SOCK_SEQPACKET datagram sent with lpa_fdpass_send; descriptors travel with it.
//
// Control socket (init <-> launcher), present when ports are published or host
// endpoints connected:
//   1. init -> launcher, once, before the workload starts (only with --connect):
//      struct lpa_connect_listeners + `count` listening sockets, bound to
//      127.0.0.1:connect_ports[i] in the sandbox's network namespace, or, for a
//      unix-socket endpoint, to connect_paths[i] on a tmpfs of the sandbox.
//   2. launcher -> init: struct lpa_socket_request, no descriptors.
//      init -> launcher: struct lpa_socket_reply + `count` unconnected TCP sockets
//      made in the sandbox's network namespace.
//   4. init -> launcher, once, before the workload starts (only with the DNS sink),
//      after message 1: struct lpa_dns_sockets + two descriptors, a UDP socket bound
//      and a TCP socket listening on 127.0.0.1:53 in the sandbox's network namespace
//      (bound while the init still holds its capabilities there: port 53 is privileged).
//
// Audit socket (workload -> launcher), present when the seccomp filter notifies:
//   3. just before execve: struct lpa_audit_handover + the seccomp notification
//      listener; the workload keeps no copy.
#ifndef LPA_CONTROL_H
#define LPA_CONTROL_H

#include <stdint.h>
#include "lpa_fdpass.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    LPA_CONNECT_LISTENERS_MAX = LPA_FDPASS_MAX,  // host endpoints in one sandbox
    LPA_SOCKET_BATCH_MAX = 32,                   // sockets in one reply
    LPA_AUDIT_HANDOVER_TAG = 1,
    LPA_DNS_SOCKETS_TAG = 0x444e53,              // "DNS"
};

struct lpa_connect_listeners {
    uint32_t count;                // descriptors sent with this message
};

struct lpa_socket_request {
    uint32_t count;                // at most LPA_SOCKET_BATCH_MAX
};

struct lpa_socket_reply {
    int32_t err;                   // 0: `count` sockets come with this message
    uint32_t count;
};

struct lpa_dns_sockets {
    uint32_t tag;                  // LPA_DNS_SOCKETS_TAG; the UDP socket, then the TCP one
};

struct lpa_audit_handover {
    uint32_t tag;                  // LPA_AUDIT_HANDOVER_TAG
};

#ifdef __cplusplus
}
#endif
#endif
