import Foundation
import Logging

/// Task processes an earlier run of this agent left running. A task runs in a session of its
/// own, so it outlives an agent that is killed (`kill -9`, the OOM killer); the coordinator
/// gives its task to another node once the node's lease expires, and the leftover would then
/// run beside the new attempt, writing the same checkpoints, for as long as it likes.
///
/// Each running attempt is written down as `DIR/ATTEMPT` holding its pid and the pid's start
/// time (field 22 of `/proc/PID/stat`, so a recycled pid is never mistaken for it); the next
/// run of the agent, holding the work-directory lock, kills what is still there before it
/// registers.
struct LeftoverProcesses: Sendable {
    let directory: String

    /// Writes down `pid` as running `attempt`'s task. Plain writes, no fsync: the record must
    /// outlive the agent's process, not the machine (a machine that goes down takes its tasks
    /// with it), and it is on the path of every task start.
    func record(attempt: String, pid: Int32) {
        guard let started = Self.startTime(of: pid) else { return }
        if mkdir(directory, 0o700) != 0 && errno != EEXIST { return }
        let path = "\(directory)/\(Self.fileName(attempt))"
        let fd = open(path + ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        let line = Array("\(pid) \(started)\n".utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        if written == line.count { rename(path + ".tmp", path) } else { unlink(path + ".tmp") }
    }

    /// The attempt's task has exited: nothing to kill later.
    func forget(attempt: String) {
        unlink("\(directory)/\(Self.fileName(attempt))")
    }

    /// Kills the process group of every task written down whose pid still runs the same
    /// process; returns how many it killed.
    @discardableResult
    func killLeftovers(logger: Logger) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var killed = 0
        for name in names {
            let path = "\(directory)/\(name)"
            defer { unlink(path) }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let fields = text.split(whereSeparator: \.isWhitespace)
            guard fields.count == 2, let pid = Int32(fields[0]), pid > 1, let started = UInt64(fields[1]),
                  Self.startTime(of: pid) == started else { continue }
            // The task leads its own process group (its own session): kill all of it.
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            killed += 1
            logger.warning("killed a task that an earlier run of this agent left running",
                           metadata: ["attempt.id": "\(name)", "pid": "\(pid)"])
        }
        return killed
    }

    /// Attempt ids are the coordinator's; anything but a plain name is escaped for the file name.
    private static func fileName(_ attempt: String) -> String {
        attempt.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_"))) ?? attempt
    }

    /// When `pid` started, in clock ticks since boot (`/proc/PID/stat` field 22), or nil if it is gone.
    static func startTime(of pid: Int32) -> UInt64? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard count > 0 else { return nil }
        let stat = buffer[..<count]
        // Fields after the command name, which may hold spaces: state is field 3, start time 22.
        guard let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = stat[(close + 1)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 19, fields[0].first != UInt8(ascii: "Z") else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }
}
