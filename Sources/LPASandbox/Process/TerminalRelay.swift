#if canImport(Glibc)
import Glibc
#endif
import CShims
import CWindow

/// The caller's terminal, when any of lpa-run's fds 0-2 is one. The workload never
/// gets it: a terminal descriptor is readable by any process holding it (outside its
/// own session no job control stops the read), so the workload could read what the
/// user types next, and with it as controlling terminal make itself the foreground
/// group. It gets a pseudo-terminal of its own devpts instead, relayed by lpa-run like
/// `docker run -t` does.
struct CallerTerminal {
    /// Which of fds 0-2 get the pty's slave in the sandbox: stdout and stderr when they
    /// are terminals, stdin when it and stdout are (an interactive session).
    var ttyFds: [Int32]
    /// stdin is a terminal but stdout is not (`lpa-run cmd | less`, `> file`): stdin is
    /// not relayed (the relay would take keystrokes from `less`), the workload reads
    /// /dev/null instead.
    var nullStdin: Bool
    /// The settings the pty starts with (the caller's, see `detect`).
    var settings: termios
    var size: winsize?

    var interactive: Bool { ttyFds.contains(0) }
    var needsPty: Bool { !ttyFds.isEmpty }
    /// Where the pty's output goes.
    var output: Int32 { ttyFds.contains(1) ? 1 : 2 }
    var mask: UInt32 { ttyFds.reduce(0) { $0 | (1 << UInt32($1)) } }

    static func detect() -> CallerTerminal? {
        let stdin = isatty(0) == 1, stdout = isatty(1) == 1, stderr = isatty(2) == 1
        guard stdin || stdout || stderr else { return nil }
        let ttys = (stdin && stdout ? [Int32(0)] : []) + (stdout ? [1] : []) + (stderr ? [2] : [])
        var settings = termios()
        if let first = ttys.first, tcgetattr(first, &settings) != 0 { return nil }
        // Output only: the caller's terminal, left as it is, already turns "\n" into
        // "\r\n"; the pty must not do it a second time.
        if !ttys.contains(0) { settings.c_oflag &= ~tcflag_t(OPOST) }
        var size = winsize()
        let sized = ttys.first.map { lpa_window_size($0, &size) == 0 } ?? false
        return CallerTerminal(ttyFds: ttys, nullStdin: stdin && !stdout, settings: settings,
                              size: sized ? size : nil)
    }
}

/// lpa-run's side of the relayed terminal: caller's stdin -> pty master -> caller's
/// terminal, on a thread of its own (which blocks every signal, so the launcher's
/// handlers run on the main thread). With an interactive stdin in the foreground, the
/// caller's terminal is put in raw mode, so that the pty's line discipline inside does
/// the editing, echo and ^C; it is restored when the relay finishes.
final class TerminalRelay: @unchecked Sendable {
    private let master: Int32
    private var input: Int32
    private let output: Int32
    private let wake: (read: Int32, write: Int32)
    private var saved: termios?
    private var thread: pthread_t?

    private init(master: Int32, input: Int32, output: Int32, wake: (Int32, Int32)) {
        self.master = master
        self.input = input
        self.output = output
        self.wake = wake
    }

    static func start(master: Int32, caller: CallerTerminal) throws(LaunchError) -> TerminalRelay {
        var fds: [Int32] = [-1, -1]
        try sys("terminal relay: pipe") { lpa_pipe_cloexec(&fds) }
        let relay = TerminalRelay(master: master, input: caller.interactive ? 0 : -1, output: caller.output,
                                  wake: (fds[0], fds[1]))
        let flags = fcntl(master, F_GETFL)
        _ = fcntl(master, F_SETFL, flags | O_NONBLOCK)
        // Raw only in the foreground: a background lpa-run would be stopped (SIGTTOU).
        if caller.interactive, tcgetpgrp(0) == getpgrp() {
            var settings = termios()
            if tcgetattr(0, &settings) == 0 {
                relay.saved = settings
                cfmakeraw(&settings)
                _ = tcsetattr(0, TCSANOW, &settings)
            }
        }
        lpa_launcher_relay_window_size(caller.ttyFds[0], master)
        var thread = pthread_t()
        let context = Unmanaged.passRetained(relay).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            let relay = Unmanaged<TerminalRelay>.fromOpaque(context!).takeRetainedValue()
            relay.run()
            return nil
        }, context)
        if rc != 0 {
            Unmanaged<TerminalRelay>.fromOpaque(context).release()
            relay.restore()
            throw LaunchError(step: "terminal relay: thread", errno: rc, message: "cannot start the terminal relay")
        }
        relay.thread = thread
        return relay
    }

    /// After the init exited: what the pty still holds is written out, the thread
    /// joined, the caller's terminal restored.
    func finish() {
        lpa_launcher_relay_window_size(-1, -1)
        if let thread {
            var byte: UInt8 = 1
            _ = write(wake.write, &byte, 1)
            pthread_join(thread, nil)
            self.thread = nil
        }
        restore()
        close(master)
        close(wake.read)
        close(wake.write)
    }

    private func restore() {
        if var saved {
            _ = tcsetattr(0, TCSADRAIN, &saved)
            self.saved = nil
        }
    }

    private func run() {
        var all = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, nil)
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var finishing = false
        while true {
            var fds = [pollfd(fd: master, events: Int16(POLLIN) | (pending.isEmpty ? 0 : Int16(POLLOUT)), revents: 0),
                       pollfd(fd: finishing ? -1 : wake.read, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: input >= 0 && pending.isEmpty ? input : -1, events: Int16(POLLIN), revents: 0)]
            let n = poll(&fds, nfds_t(fds.count), finishing ? 0 : -1)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return }
            if n == 0 { return }  // finishing, and nothing more is readable
            if fds[1].revents != 0 { finishing = true }
            if fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let got = read(master, &buffer, buffer.count)
                if got > 0 {
                    writeAll(output, buffer, got)
                } else if got == 0 || (errno != EAGAIN && errno != EINTR) {
                    return  // EIO: every holder of the slave is gone
                }
            }
            if fds[0].revents & Int16(POLLOUT) != 0, !pending.isEmpty {
                let wrote = write(master, pending, pending.count)
                if wrote > 0 { pending.removeFirst(wrote) }
            }
            if fds[2].revents != 0 {
                let got = read(input, &buffer, buffer.count)
                if got > 0 { pending.append(contentsOf: buffer[0..<got]) }
                else if got == 0 || (errno != EAGAIN && errno != EINTR) { input = -1 }
            }
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], _ count: Int) {
        var offset = 0
        while offset < count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, count - offset) }
            if n > 0 { offset += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&p, 1, 1000)
                continue
            }
            return  // the caller's terminal is gone: drop the rest
        }
    }
}
