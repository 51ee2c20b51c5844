import Foundation
import Logging

/// Task processes an earlier run of this agent left running. A task runs in a session of its
/// own, so it outlives an agent that is killed (`kill -9`, the OOM killer); the coordinator
/// gives its task to another node once the node's lease expires, and the leftover would then
/// run beside the new attempt, writing the same checkpoints, for as long as it likes.
///
/// Each attempt's directory `scratch/N` has a record `scratch/N.pid` beside it, out of the
/// task's reach, holding the pid of the running task and the pid's start time (field 22 of
/// `/proc/PID/stat`, so a recycled pid is never mistaken for it), emptied when the attempt
/// ends. The next run of the agent, holding the work-directory lock, kills what the records
/// still name before it registers.
///
/// A record is written in place and emptied with `ftruncate`, not created and unlinked per
/// attempt: it is on the path of every task start, and creating and deleting a file per task
/// made ext4's inode allocator a sixth of the agent's time. No fsync either: the record must
/// outlive the agent's process, not the machine, which takes its tasks down with it.
struct LeftoverProcesses: Sendable {
    /// Where the attempts' directories and their records are (`scratch`).
    let directory: String

    static let suffix = ".pid"

    /// Writes down `pid` as the task running in the attempt directory `path`.
    func record(_ path: String, pid: Int32) {
        guard let started = Self.startTime(of: pid) else { return }
        let fd = open(path + Self.suffix, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return }
        let line = Array("\(pid) \(started)\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = line.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        close(fd)
    }

    /// The task in `path` has exited: nothing to kill later. With `kept` the directory is
    /// moved away and never reused, so its record goes too.
    func forget(_ path: String, kept: Bool) {
        if kept {
            unlink(path + Self.suffix)
            return
        }
        let fd = open(path + Self.suffix, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return }
        ftruncate(fd, 0)
        close(fd)
    }

    /// Kills the process group of every task a record names whose pid still runs the same
    /// process; returns how many it killed.
    @discardableResult
    func killLeftovers(logger: Logger) -> Int {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(Self.suffix) }
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
                           metadata: ["directory": "\(path.dropLast(Self.suffix.count))", "pid": "\(pid)"])
        }
        return killed
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
