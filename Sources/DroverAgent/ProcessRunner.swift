// Runs one task attempt as its own process group, on top of posix_spawn.
//
// Written by hand (rather than with Foundation.Process or swift-subprocess) because the agent needs
// the child to be a session and process-group leader (POSIX_SPAWN_SETSID), so that the whole attempt
// can be signalled at once, and it needs wait4's rusage to report the attempt's peak RSS.
//
// Linux (glibc) only: it relies on POSIX_SPAWN_SETSID, posix_spawn_file_actions_addchdir_np and
// glibc reporting exec failures from posix_spawn.

import Dispatch
import Foundation
import Glibc
import Synchronization

/// A spawned process that leads its own session and process group.
///
/// A dedicated (detached, pthread) thread per process blocks in the wait system calls (never a thread of Swift
/// concurrency's cooperative pool). When the group leader exits, that thread SIGKILLs the rest of the
/// process group *before* reaping the leader (while the leader is a zombie its pid, and so the group
/// id, cannot be reused), so no process of the attempt that stayed in the group survives it.
/// Processes that deliberately leave the group (setsid/setpgid, e.g. daemons) are not tracked.
public final class RunningProcess: Sendable {
    /// The child's pid, which is also its process-group id and session id (the child calls setsid).
    public let pid: Int32

    private struct State: Sendable {
        /// Set (under the lock) just before the leader is reaped; after that, `pid` may be reused and
        /// must not be signalled any more.
        var reaped = false
        var result: ProcessExit?
        var waiters: [CheckedContinuation<ProcessExit, Never>] = []
    }

    private let state = Mutex(State())
    private let started: ContinuousClock.Instant

    private init(pid: Int32, started: ContinuousClock.Instant) {
        self.pid = pid
        self.started = started
    }

    /// Starts `launch` as a new session and process-group leader and begins waiting for it on a dedicated thread.
    public static func spawn(_ launch: ProcessLaunch) throws(SpawnError) -> RunningProcess {
        try spawn(launch, errorPath: nil)
    }

    /// Like `spawn(_:)`, but if `errorPath` is set, stderr goes to that file instead of `outputPath`.
    static func spawn(_ launch: ProcessLaunch, errorPath: String?) throws(SpawnError) -> RunningProcess {
        guard let name = launch.argv.first, !name.isEmpty else {
            throw SpawnError(executable: "", errno: EINVAL, description: "cannot start a process: argv is empty")
        }
        guard isDirectory(launch.workingDirectory) else {
            throw SpawnError.cannotStart(
                name, errno: ENOENT, detail: "working directory '\(launch.workingDirectory)' does not exist")
        }
        var executablePath = try resolveExecutable(
            name, environment: launch.environment, workingDirectory: launch.workingDirectory)
        // Resolved above all the same, so that a missing program is an error here and not an exit 127.
        let arguments = launch.user.map { $0.argv(running: launch.argv) } ?? launch.argv
        if let user = launch.user { executablePath = user.setpriv }

        let outFD = try openOutput(launch.outputPath, executable: name)
        defer { close(outFD) }
        var errFD = outFD
        if let errorPath {
            errFD = try openOutput(errorPath, executable: name)
        }
        defer { if errFD != outFD { close(errFD) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var rc = posix_spawn_file_actions_adddup2(&actions, outFD, STDOUT_FILENO)
        if rc == 0 { rc = posix_spawn_file_actions_adddup2(&actions, errFD, STDERR_FILENO) }
        if rc == 0 { rc = posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0) }
        if rc != 0 {
            throw SpawnError.cannotStart(name, errno: rc, detail: "posix_spawn_file_actions")
        }
        guard let addchdir = GlibcExtras.addchdir else {
            throw SpawnError.cannotStart(
                name, errno: ENOSYS, detail: "this libc lacks posix_spawn_file_actions_addchdir_np")
        }
        rc = launch.workingDirectory.withCString { addchdir(&actions, $0) }
        if rc != 0 {
            throw SpawnError.cannotStart(name, errno: rc, detail: "posix_spawn_file_actions_addchdir_np")
        }
        // Do not leak the agent's descriptors (sockets, database files) that lack O_CLOEXEC.
        if let addclosefrom = GlibcExtras.addclosefrom {
            _ = addclosefrom(&actions, 3)
        }

        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        let flags = Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF) | GlibcExtras.POSIX_SPAWN_SETSID
        rc = posix_spawnattr_setflags(&attr, Int16(flags))
        if rc == 0 { rc = posix_spawnattr_setsigmask(&attr, &noSignals) }
        if rc == 0 { rc = posix_spawnattr_setsigdefault(&attr, &allSignals) }
        if rc != 0 {
            throw SpawnError.cannotStart(name, errno: rc, detail: "posix_spawnattr")
        }

        let argv = CStringArray(arguments)
        let envp = CStringArray(launch.environment.map { "\($0.key)=\($0.value)" })
        defer {
            argv.free()
            envp.free()
        }

        var started = ContinuousClock.now
        var pid: pid_t = 0
        // glibc's posix_spawn (CLONE_VFORK) returns the child's exec/chdir errno instead of leaving a
        // child that exits with 127.
        //
        // ETXTBSY is retried: if the program was just written by this process (a task script, say),
        // a child spawned concurrently by another thread can still hold a copy of the writing
        // descriptor for the instant between its fork and its exec. That clears up within
        // microseconds, so a few short sleeps suffice (at most ~50 ms in total).
        for attempt in 0..<10 {
            started = ContinuousClock.now
            rc = posix_spawn(&pid, executablePath, &actions, &attr, argv.pointer, envp.pointer)
            guard rc == ETXTBSY else { break }
            usleep(UInt32(1000 * (attempt + 1)))
        }
        if rc != 0 {
            if !isDirectory(launch.workingDirectory) {
                throw SpawnError.cannotStart(
                    name, errno: rc, detail: "working directory '\(launch.workingDirectory)' does not exist")
            }
            let detail = executablePath == name ? nil : executablePath
            throw SpawnError.cannotStart(name, errno: rc, detail: detail)
        }

        let process = RunningProcess(pid: pid, started: started)
        rc = startWaiterThread(for: process)
        if rc != 0 {
            // Without its waiter nobody would ever reap the child or answer wait(): undo the spawn.
            _ = kill(-pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            throw SpawnError.cannotStart(name, errno: rc, detail: "cannot create its waiter thread")
        }
        return process
    }

    /// Waits until the group leader has exited and returns how it ended.
    ///
    /// By then the rest of its process group has been sent SIGKILL. Safe to call any number of times,
    /// concurrently; every call returns the same value. Cancellation does not end the wait (use
    /// `terminate(grace:)` to stop the process).
    public func wait() async -> ProcessExit {
        if let result = state.withLock({ $0.result }) { return result }
        return await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> ProcessExit? in
                if let result = state.result { return result }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Sends `signal` to the whole process group (kill(-pid, signal)); does nothing once the leader is reaped.
    public func signalGroup(_ signal: Int32) {
        state.withLock { state in
            // Checked under the lock so that the pid cannot have been reaped (and reused) meanwhile.
            guard !state.reaped else { return }
            _ = kill(-pid, signal)  // ESRCH (nothing left in the group) is fine
        }
    }

    /// SIGTERM to the group, then SIGKILL to the group after `grace` if the leader has not exited; returns the exit.
    public func terminate(grace: Duration) async -> ProcessExit {
        if let result = state.withLock({ $0.result }) { return result }
        signalGroup(SIGTERM)
        // Scheduled on Dispatch rather than in a child task so that cancelling the caller cannot
        // cancel the escalation (a process ignoring SIGTERM would otherwise never end). Once the
        // leader has been reaped, signalGroup is a no-op, so the late SIGKILL is harmless.
        let (seconds, attoseconds) = max(grace, .zero).components
        let nanoseconds = min(seconds, 365 * 86_400) * 1_000_000_000 + attoseconds / 1_000_000_000
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) {
            self.signalGroup(SIGKILL)
        }
        return await wait()
    }

    /// Starts the detached thread that runs `waitForExit()`; returns pthread_create's error, or 0.
    private static func startWaiterThread(for process: RunningProcess) -> Int32 {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        pthread_attr_setstacksize(&attributes, 256 * 1024)  // it only makes a few system calls
        let context = Unmanaged.passRetained(process).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, &attributes,
            { context in
                let process = Unmanaged<RunningProcess>.fromOpaque(context!).takeRetainedValue()
                process.waitForExit()
                return nil
            }, context)
        if rc != 0 {
            Unmanaged<RunningProcess>.fromOpaque(context).release()
        }
        return rc
    }

    /// Runs on the dedicated thread: blocks until the leader exits, kills the group, reaps, publishes.
    private func waitForExit() {
        // 1. Wait for the leader to become a zombie without reaping it, so its pid (= the group id)
        //    stays reserved while we kill stray members of the group.
        var info = siginfo_t()
        var rc: Int32
        repeat {
            rc = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT)
        } while rc == -1 && errno == EINTR
        let exitSeen = ContinuousClock.now

        // 2. Kill whatever is left of the group, then reap the leader with its rusage.
        var status: Int32 = 0
        var usage = rusage()
        var reapedPid: pid_t = -1
        state.withLock { state in
            // Only if waitid saw the zombie: otherwise the pid may already belong to someone else.
            if rc == 0 { _ = kill(-pid, SIGKILL) }
            state.reaped = true
        }
        if rc == 0 {
            repeat {
                reapedPid = wait4(pid, &status, 0, &usage)
            } while reapedPid == -1 && errno == EINTR
        }

        var exit = ProcessExit(
            exitCode: nil, signal: nil, peakRSSBytes: 0,
            wallMilliseconds: Self.milliseconds(started.duration(to: exitSeen)))
        if reapedPid == pid {
            // Decode the status as WIFEXITED / WIFSIGNALED do (the macros are not imported).
            let low = status & 0x7f
            if low == 0 {
                exit.exitCode = (status >> 8) & 0xff
            } else if low != 0x7f {
                exit.signal = low
            }
            exit.peakRSSBytes = Int64(usage.ru_maxrss) * 1024
        }
        // Otherwise someone else reaped our child (e.g. SIGCHLD set to SIG_IGN, or a waitpid(-1)
        // elsewhere): how it ended is unknown, and both exitCode and signal stay nil.

        let waiters = state.withLock { state in
            state.result = exit
            let waiters = state.waiters
            state.waiters = []
            return waiters
        }
        for waiter in waiters {
            waiter.resume(returning: exit)
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    // MARK: - Helpers

    /// Opens an output file for the child, close-on-exec in the agent and never on fds 0–2.
    private static func openOutput(_ path: String, executable: String) throws(SpawnError) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let code = errno
            throw SpawnError(
                executable: executable, errno: code,
                description: "cannot start '\(executable)': cannot open output file '\(path)': "
                    + String(cString: strerror(code)))
        }
        if fd > STDERR_FILENO { return fd }
        // The agent's own stdio was closed; keep our descriptor out of the way of the dup2s.
        let moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1)
        let code = errno
        close(fd)
        guard moved >= 0 else {
            throw SpawnError.cannotStart(executable, errno: code, detail: "fcntl(F_DUPFD_CLOEXEC)")
        }
        return moved
    }

    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, X_OK) == 0
    }

    /// Resolves `name` the way execvp would in the child: names containing "/" are used as given,
    /// others are searched in the PATH of `environment` (else the agent's PATH).
    static func resolveExecutable(
        _ name: String, environment: [String: String], workingDirectory: String
    ) throws(SpawnError) -> String {
        if name.contains("/") { return name }
        let searchPath =
            environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        var sawNonExecutable = false
        for entry in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            var directory = entry.isEmpty ? "." : String(entry)
            if !directory.hasPrefix("/") {
                directory = workingDirectory + "/" + directory
            }
            let candidate = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            if isExecutableFile(candidate) { return candidate }
            if access(candidate, F_OK) == 0 { sawNonExecutable = true }
        }
        if sawNonExecutable {
            throw SpawnError.cannotStart(name, errno: EACCES, detail: "found in PATH but not an executable file")
        }
        throw SpawnError.cannotStart(name, errno: ENOENT, detail: "executable not found in PATH")
    }
}

/// A NULL-terminated array of C strings owned until `free()` is called.
private struct CStringArray {
    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    init(_ strings: [String]) {
        pointer = .allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() {
            pointer[index] = strdup(string)
        }
        pointer[strings.count] = nil
    }

    func free() {
        var index = 0
        while let string = pointer[index] {
            Glibc.free(string)
            index += 1
        }
        pointer.deallocate()
    }
}

/// glibc functions and constants that Swift's Glibc module does not import because they are
/// GNU extensions (it is built without _GNU_SOURCE).
enum GlibcExtras {
    /// POSIX_SPAWN_SETSID from <spawn.h> (glibc >= 2.26).
    static let POSIX_SPAWN_SETSID: Int32 = 0x80

    typealias AddChdir =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddClosefrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias SchedGetaffinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32

    /// posix_spawn_file_actions_addchdir_np (glibc >= 2.29), looked up at run time so the C calling
    /// convention is used and an older libc degrades to an error instead of a link failure.
    static var addchdir: AddChdir? { symbol("posix_spawn_file_actions_addchdir_np") }
    /// posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34).
    static var addclosefrom: AddClosefrom? { symbol("posix_spawn_file_actions_addclosefrom_np") }
    /// sched_getaffinity(2) wrapper.
    static var schedGetaffinity: SchedGetaffinity? { symbol("sched_getaffinity") }

    private static func symbol<F>(_ name: String) -> F? {
        // dlsym(RTLD_DEFAULT, name); RTLD_DEFAULT is the null handle.
        guard let raw = dlsym(nil, name) else { return nil }
        return unsafeBitCast(raw, to: F.self)
    }
}
