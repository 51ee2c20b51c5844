import DroverCore
import Foundation
import Glibc
import Synchronization

/// Whom the agent runs attempts as. When the agent is root, each attempt runs as a uid of the
/// `taskUids` range that no other running attempt holds (through setpriv), so no task can read
/// another's environment (`/proc/PID/environ`) or directories; otherwise every attempt runs
/// as the agent's own uid, and the node says so (`taskIsolation: none`).
final class TaskUsers: Sendable {
    /// Attempts share the agent's uid.
    static let shared = TaskUsers(.shared(reason: "tasks run as the agent's own uid"))

    /// What the agent can do on this machine.
    enum Decision: Equatable, Sendable {
        case isolated(ClosedRange<UInt32>, setpriv: String)
        /// Why tasks are not isolated, and what to do about it: the warning at start.
        case shared(reason: String)
    }

    let decision: Decision
    /// The uids held; nil when tasks are not isolated.
    private let pool: Mutex<TaskUIDPool?>

    init(_ decision: Decision) {
        self.decision = decision
        if case .isolated(let range, _) = decision { pool = Mutex(TaskUIDPool(range: range)) } else { pool = Mutex(nil) }
    }

    /// What the node registers.
    var isolation: TaskIsolation {
        if case .isolated = decision { return .uid }
        return .shared
    }

    /// Isolation needs root (to switch uid and chown), setpriv, a range, and directories that
    /// tasks running as other uids can reach (`closedDirectory`: the first that they cannot).
    static func decide(range: ClosedRange<UInt32>?, agentUID: uid_t, setpriv: String?, closedDirectory: String? = nil) -> Decision {
        let risk = "tasks on this node are not isolated from each other: each can read the others' environment (secrets included) and files"
        guard let range else { return .shared(reason: "\(risk) (--task-uids none); to isolate them, run the agent as root with --task-uids FIRST-LAST") }
        guard agentUID == 0 else {
            return .shared(reason: "\(risk), since every task runs as the agent's uid \(agentUID); run the agent as root so that each attempt "
                                   + "runs as its own uid of --task-uids \(range.lowerBound)-\(range.upperBound) (or pass --task-uids none to accept this)")
        }
        guard let setpriv else {
            return .shared(reason: "\(risk): setpriv (util-linux), which starts each task as its own uid, is not on PATH; install util-linux "
                                   + "(or pass --task-uids none to accept this)")
        }
        if let closedDirectory {
            return .shared(reason: "\(risk): tasks running as their own uids could not reach their directories, since \(closedDirectory) may not be "
                                   + "entered by other users (mode o-x); choose a --work-dir / --checkpoint-dir under a directory everyone may enter, "
                                   + "such as /var/lib/drover, or chmod o+x \(closedDirectory) (or pass --task-uids none to accept this)")
        }
        return .isolated(range, setpriv: setpriv)
    }

    /// setpriv in an absolute directory of the agent's PATH (or in /usr/bin), if any: never one
    /// a relative entry would find in the current directory, since root runs it.
    static func findSetpriv(path: String? = ProcessInfo.processInfo.environment["PATH"]) -> String? {
        let directories = (path ?? "").split(separator: ":").map(String.init).filter { $0.hasPrefix("/") } + ["/usr/bin", "/bin"]
        return directories.map { $0 + "/setpriv" }.first { RunningProcess.isExecutableFile($0) }
    }

    /// Whom an attempt runs as.
    enum Acquisition: Sendable, Equatable {
        /// The agent's own uid: tasks are not isolated.
        case shared
        case user(ProcessUser)
        /// Stopped while it waited for a uid.
        case stopped(StopReason)
    }

    /// A uid for an attempt, waiting while every uid of the range is held, until `stop()` has
    /// a reason. Waiting caps concurrency rather than failing the attempt: the agent has no slot
    /// count to check the range against at start (how many attempts run at once depends on
    /// what they ask for), and the lease stays renewed while it waits.
    func acquire(clock: any MonotonicClock, stop: () -> StopReason?) async -> Acquisition {
        guard case .isolated(_, let setpriv) = decision else { return .shared }
        while true {
            if let uid = pool.withLock({ $0?.acquire() }) { return .user(ProcessUser(uid: uid, gid: uid, setpriv: setpriv)) }
            if let stop = stop() { return .stopped(stop) }
            try? await clock.sleep(for: .milliseconds(50))
        }
    }

    /// `user`'s attempt has ended and its process group is gone.
    func release(_ user: ProcessUser) {
        pool.withLock { $0?.release(user.uid) }
    }

    /// Refuses, before any task runs, a range that includes an account of this machine: its
    /// tasks would run as that account.
    func checkRange() throws {
        guard case .isolated(let range, _) = decision else { return }
        if let (name, uid) = Self.accounts().first(where: { range.contains($0.uid) }) {
            throw AgentError("--task-uids \(range.lowerBound)-\(range.upperBound) includes uid \(uid) of the account '\(name)': tasks would run as it; "
                             + "choose a range no account uses, such as the default \(TaskUIDRange.defaultText)")
        }
    }

    /// The first of `directories` or their ancestors that other users may not enter, if any.
    static func firstClosedDirectory(among directories: [String]) -> String? {
        directories.lazy.compactMap { firstUnsearchableAncestor(of: $0) }.first
    }

    /// The accounts of the passwd database (local and NSS).
    private static func accounts() -> [(name: String, uid: UInt32)] {
        var accounts: [(String, UInt32)] = []
        setpwent()
        defer { endpwent() }
        while let entry = getpwent() { accounts.append((String(cString: entry.pointee.pw_name), entry.pointee.pw_uid)) }
        return accounts
    }

    /// The first of `path` and its ancestors that others may not search, if any.
    private static func firstUnsearchableAncestor(of path: String) -> String? {
        var ancestor = ""
        for component in URL(fileURLWithPath: path).standardizedFileURL.pathComponents.dropFirst() {
            ancestor += "/" + component
            var info = stat()
            if stat(ancestor, &info) == 0, info.st_mode & S_IXOTH == 0 { return ancestor }
        }
        return nil
    }
}
