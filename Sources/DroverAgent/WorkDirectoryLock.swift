#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Holds `DIR/agent.lock` with `flock` for as long as the agent runs, so that a second agent
/// given the same work directory refuses to start instead of deleting the first one's running
/// tasks' directories. The lock goes with the process (also on `kill -9`).
final class WorkDirectoryLock: Sendable {
    let path: String
    private let descriptor: Int32

    /// Takes the lock of `directory` (made if missing), or throws naming the agent holding it.
    init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw WorkDirectoryError("cannot create the work directory \(directory): \(error.localizedDescription); give a writable --work-dir")
        }
        path = directory + "/agent.lock"
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw WorkDirectoryError("cannot open \(path): \(String(cString: strerror(errno))); give a writable --work-dir")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw WorkDirectoryError("the work directory \(directory) is in use by another agent\(holder.isEmpty ? "" : " (pid \(holder))"); "
                                     + "give each agent on this machine its own --work-dir (or --name: the default directory is per name)")
        }
        ftruncate(descriptor, 0)
        let pid = "\(getpid())\n"
        _ = pid.withCString { write(descriptor, $0, strlen($0)) }
    }

    deinit { close(descriptor) }
}

struct WorkDirectoryError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
